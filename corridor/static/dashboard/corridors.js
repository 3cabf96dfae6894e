// Corridors: two countries' flows, both directions: the currencies they settled in
// (corridorStats) and the monthly USD and local-currency shares (corridorSeries).

import { COUNTRIES, countryChoices, query, queryOnce } from "./api.js";
import { barChart, doughnutChart, lineChart, PERCENT_AXIS, plotted } from "./charts.js";
import { groupDigits, money, month, percent } from "./format.js";
import { defaultSince, monthEnd, monthStart, thisMonth } from "./time.js";
import { SHARE_COLUMNS, SHARE_FIELDS } from "./shares.js";
import { errorBox, field, filterForm, h, input, loading, section, select, show, table, tiles } from "./ui.js";

const CORRIDOR = `query Corridor($a: String!, $b: String!, $since: DateTime!, $until: DateTime!, $currency: String!) {
  corridorStats(countryA: $a, countryB: $b, since: $since, until: $until, reportingCurrency: $currency) {
    countries { code name } reportingCurrency paymentCount totalValue { amount currency } usdShare localShare
    shares { ${SHARE_FIELDS} }
  }
  corridorSeries(countryA: $a, countryB: $b, since: $since, until: $until, interval: MONTH,
                 reportingCurrency: $currency) {
    start paymentCount totalValue { amount currency } usdShare localShare
  }
}`;
const HINTS = {
  FORBIDDEN:
    "Corridor figures are for OPERATOR and ANALYST keys: a corridor with one bank at an end would show that " +
    "bank's flows to its competitors. The Overview, Reserves and Indices pages work with this key.",
};

function options(params) {
  return {
    a: (params.get("a") || "RU").toUpperCase(),
    b: (params.get("b") || "IR").toUpperCase(),
    since: params.get("since") || defaultSince(),
    until: params.get("until") || thisMonth(),
    currency: (params.get("currency") || "USD").toUpperCase(),
  };
}

function controls(countries, chosen, go) {
  const choices = countryChoices(countries);
  return filterForm(
    [
      field("Country A", select("a", choices, chosen.a)),
      field("Country B", select("b", choices, chosen.b)),
      field("From month", input("since", chosen.since, { type: "month" })),
      field("To month", input("until", chosen.until, { type: "month" })),
      field("Reporting currency", input("currency", chosen.currency, { size: "4", maxlength: "3" })),
    ],
    go,
  );
}

function statsSection(stats, chosen) {
  const names = stats.countries.map((country) => country.name).join(" and ");
  return section(
    `${names}, ${chosen.since} to ${chosen.until}`,
    tiles([
      ["Value settled", money(stats.totalValue), "total"],
      ["Payments", groupDigits(stats.paymentCount), "payments"],
      ["USD share", percent(stats.usdShare), "usd-share"],
      ["Local-currency share", percent(stats.localShare), "local-share"],
    ]),
    h(
      "div",
      { class: "split" },
      doughnutChart(
        "corridor-shares",
        stats.shares.map((share) => share.currency),
        stats.shares.map((share) => plotted(share.value.amount)),
      ),
      table(SHARE_COLUMNS, stats.shares, "No flows between these countries in this range."),
    ),
  );
}

const SERIES_COLUMNS = [
  { label: "Month", cell: (point) => month(point.start) },
  { label: "Payments", cell: (point) => groupDigits(point.paymentCount), numeric: true },
  { label: "Value", cell: (point) => money(point.totalValue), numeric: true },
  { label: "USD share", cell: (point) => percent(point.usdShare), numeric: true },
  { label: "Local share", cell: (point) => percent(point.localShare), numeric: true },
];

function seriesSection(series) {
  const labels = series.map((point) => month(point.start));
  const share = (key) => series.map((point) => (point.paymentCount ? point[key] * 100 : null));
  const shares = [
    { label: "USD share", data: share("usdShare") },
    { label: "Local-currency share", data: share("localShare") },
  ];
  const value = [{ label: "Value", data: series.map((point) => plotted(point.totalValue.amount)) }];
  const active = series.filter((point) => point.paymentCount);
  return section(
    "Month by month",
    lineChart("corridor-monthly-shares", labels, shares, { scales: { y: PERCENT_AXIS } }),
    barChart("corridor-monthly-value", labels, value),
    h("details", {}, h("summary", {}, "Months with payments"), table(SERIES_COLUMNS, active, "No payments.")),
  );
}

export default {
  id: "corridors",
  title: "Corridors",
  async render(body, { params, go }) {
    const chosen = options(params);
    show(body, loading());
    const { countries } = await queryOnce(COUNTRIES);
    const form = controls(countries, chosen, go);
    show(body, form, loading());
    const variables = { ...chosen, since: monthStart(chosen.since), until: monthEnd(chosen.until) };
    try {
      const data = await query(CORRIDOR, variables);
      show(body, form, statsSection(data.corridorStats, chosen), seriesSection(data.corridorSeries));
    } catch (error) {
      show(body, form, errorBox(error, HINTS));
    }
  },
};
