// Reserves: a country's holdings over time (reserveHoldings: US treasuries, gold, ...)
// and their composition at a date, valued in one currency (reserveComposition).

import { COUNTRIES, countryChoices, query, queryOnce } from "./api.js";
import { doughnutChart, lineChart, plotted } from "./charts.js";
import { decimal, money, percent } from "./format.js";
import { today } from "./time.js";
import { errorBox, field, filterForm, h, input, loading, section, select, show, table, tiles } from "./ui.js";

const RESERVES = `query Reserves($country: String!, $at: Date!, $currency: String!) {
  reserveHoldings(countryCode: $country) { asset unit amount asOf source }
  reserveComposition(countryCode: $country, at: $at, currency: $currency) {
    at total { amount currency } country { name }
    components { asset unit amount value { amount currency } share }
  }
}`;
const ASSETS = { UST: "US treasuries (UST)", XAU: "Gold (XAU)" };
const UNITS = { TONNE: "tonnes" };

function assetName(asset) {
  return ASSETS[asset] || asset;
}

function holding(row) {
  return decimal(row.amount, UNITS[row.unit] || row.unit);
}

function options(params) {
  return {
    country: (params.get("country") || "CN").toUpperCase(),
    at: params.get("at") || today(),
    currency: (params.get("currency") || "USD").toUpperCase(),
  };
}

function controls(countries, chosen, go) {
  const choices = countryChoices(countries);
  return filterForm(
    [
      field("Country", select("country", choices, chosen.country)),
      field("Composition at", input("at", chosen.at, { type: "date" })),
      field("Valued in", input("currency", chosen.currency, { size: "4", maxlength: "3" })),
    ],
    go,
  );
}

// One line per asset and unit; each unit on an axis of its own (USD left, tonnes right).
function historyChart(holdings) {
  const dates = [...new Set(holdings.map((row) => row.asOf))].sort();
  const series = [...new Set(holdings.map((row) => `${row.asset} ${row.unit}`))];
  const units = [...new Set(holdings.map((row) => row.unit))];
  const datasets = series.map((key) => {
    const [asset, unit] = key.split(" ");
    const amountAt = (date) => {
      const found = holdings.find((row) => row.asOf === date && row.asset === asset && row.unit === unit);
      return found ? plotted(found.amount) : null;
    };
    return { label: `${assetName(asset)}, ${UNITS[unit] || unit}`, data: dates.map(amountAt), yAxisID: unit };
  });
  const scales = Object.fromEntries(
    units.map((unit, i) => [
      unit,
      { position: i % 2 ? "right" : "left", title: { display: true, text: UNITS[unit] || unit } },
    ]),
  );
  return lineChart("reserve-history", dates, datasets, { scales });
}

const HOLDING_COLUMNS = [
  { label: "Date", cell: (row) => row.asOf },
  { label: "Asset", cell: (row) => assetName(row.asset) },
  { label: "Holding", cell: holding, numeric: true },
  { label: "Source", cell: (row) => row.source || "" },
];

function historySection(holdings, countryName) {
  if (!holdings.length) {
    return section(
      "Holdings over time",
      h("p", { class: "empty" }, `No reserve holdings recorded for ${countryName}.`),
    );
  }
  return section(
    "Holdings over time",
    historyChart(holdings),
    h("details", {}, h("summary", {}, "Every holding"), table(HOLDING_COLUMNS, holdings)),
  );
}

const COMPONENT_COLUMNS = [
  { label: "Asset", cell: (row) => assetName(row.asset) },
  { label: "Holding", cell: holding, numeric: true },
  { label: "Value", cell: (row) => (row.value ? money(row.value) : "no rate values it"), numeric: true },
  { label: "Share", cell: (row) => percent(row.share), numeric: true },
];

function compositionSection(composition) {
  const valued = composition.components.filter((row) => row.value);
  return section(
    `Composition at ${composition.at}`,
    tiles([["Valued total", money(composition.total), "reserve-total"]]),
    h(
      "div",
      { class: "split" },
      doughnutChart(
        "reserve-composition",
        valued.map((row) => assetName(row.asset)),
        valued.map((row) => plotted(row.value.amount)),
      ),
      table(COMPONENT_COLUMNS, composition.components, "No holdings at or before this date."),
    ),
  );
}

export default {
  id: "reserves",
  title: "Reserves",
  async render(body, { params, go }) {
    const chosen = options(params);
    show(body, loading());
    const { countries } = await queryOnce(COUNTRIES);
    const form = controls(countries, chosen, go);
    show(body, form, loading());
    try {
      const data = await query(RESERVES, chosen);
      const composition = data.reserveComposition;
      show(body, form, historySection(data.reserveHoldings, composition.country.name), compositionSection(composition));
    } catch (error) {
      show(body, form, errorBox(error));
    }
  },
};
