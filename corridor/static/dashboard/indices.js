// Indices: the US dollar index (ICE's formula over the stored rates) and a basket's value,
// month by month (dollarIndexHistory, basket { history }).

import { query } from "./api.js";
import { lineChart, plotted } from "./charts.js";
import { decimal, money, month } from "./format.js";
import { defaultSince, monthEnd, monthStart, thisMonth } from "./time.js";
import { errorBox, field, filterForm, h, input, loading, section, show, table, tiles } from "./ui.js";

const INDICES = `query Indices($since: DateTime!, $until: DateTime!, $basket: String!, $currency: String!) {
  dollarIndex
  dollarIndexHistory(since: $since, until: $until, interval: MONTH) { at value }
  basket(code: $basket) {
    code name components { currency weight amount } value(currency: $currency) { amount currency }
    history(currency: $currency, since: $since, until: $until, interval: MONTH) { at value }
  }
}`;

function options(params) {
  return {
    since: params.get("since") || defaultSince(),
    until: params.get("until") || thisMonth(),
    basket: (params.get("basket") || "UNIT").toUpperCase(),
    currency: (params.get("currency") || "USD").toUpperCase(),
  };
}

function controls(chosen, go) {
  return filterForm(
    [
      field("From month", input("since", chosen.since, { type: "month" })),
      field("To month", input("until", chosen.until, { type: "month" })),
      field("Basket", input("basket", chosen.basket, { size: "10" })),
      field("Basket valued in", input("currency", chosen.currency, { size: "4", maxlength: "3" })),
    ],
    go,
  );
}

function dollarSection(now, history) {
  const columns = [
    { label: "Month", cell: (point) => month(point.at) },
    { label: "Dollar index", cell: (point) => decimal(point.value), numeric: true },
  ];
  const labels = history.map((point) => month(point.at));
  const data = history.map((point) => plotted(point.value));
  return section(
    "US dollar index",
    tiles([["Now", decimal(now), "dollar-index"]]),
    lineChart("dollar-index", labels, [{ label: "Dollar index", data }]),
    h("details", {}, h("summary", {}, "Month by month"), table(columns, history)),
  );
}

function basketSection(basket, chosen) {
  if (!basket) {
    return section("Basket", h("p", { class: "empty" }, `No basket with the code ${chosen.basket}.`));
  }
  const labels = basket.history.map((point) => month(point.at));
  const data = basket.history.map((point) => plotted(point.value));
  const components = [
    { label: "Currency", cell: (row) => row.currency },
    { label: "Weight at definition", cell: (row) => decimal(row.weight), numeric: true },
    { label: "Amount in one unit", cell: (row) => decimal(row.amount, row.currency), numeric: true },
  ];
  const history = [
    { label: "Month", cell: (point) => month(point.at) },
    { label: `Value (${chosen.currency})`, cell: (point) => decimal(point.value, chosen.currency), numeric: true },
  ];
  return section(
    `${basket.code}: ${basket.name}`,
    tiles([["Value now", money(basket.value), "basket-value"]]),
    lineChart("basket-history", labels, [{ label: `${basket.code} in ${chosen.currency}`, data }]),
    table(components, basket.components),
    h("details", {}, h("summary", {}, "Month by month"), table(history, basket.history)),
  );
}

export default {
  id: "indices",
  title: "Indices",
  async render(body, { params, go }) {
    const chosen = options(params);
    const form = controls(chosen, go);
    show(body, form, loading());
    const variables = { ...chosen, since: monthStart(chosen.since), until: monthStart(chosen.until) };
    try {
      const data = await query(INDICES, variables);
      show(body, form, dollarSection(data.dollarIndex, data.dollarIndexHistory), basketSection(data.basket, chosen));
    } catch (error) {
      show(body, form, errorBox(error));
    }
  },
};
