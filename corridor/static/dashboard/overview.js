// Overview: the network's value and payments by the currency they settled in
// (currencyShares), its USD share, and the same per year or month.

import { query } from "./api.js";
import { barChart, doughnutChart, plotted } from "./charts.js";
import { groupDigits, money, percent, sumDecimals } from "./format.js";
import { defaultFromYear, lastMonths, years } from "./time.js";
import { SHARE_COLUMNS, SHARE_FIELDS } from "./shares.js";
import { errorBox, field, filterForm, h, input, loading, section, select, show, table, tiles } from "./ui.js";

const MOST_PERIODS = 24; // one aliased currencyShares per period, well within the API's alias limit

function sharesQuery(periods) {
  const declared = periods.map((_, i) => `$s${i}: DateTime!, $u${i}: DateTime!`).join(", ");
  const fields = periods.map(
    (_, i) => `p${i}: currencyShares(since: $s${i}, until: $u${i}, reportingCurrency: $currency) { ${SHARE_FIELDS} }`,
  );
  return `query Overview($currency: String!, ${declared}) {
    all: currencyShares(reportingCurrency: $currency) { ${SHARE_FIELDS} }
    ${fields.join("\n    ")}
  }`;
}

function sharesVariables(currency, periods) {
  const variables = { currency };
  periods.forEach((period, i) => Object.assign(variables, { [`s${i}`]: period.since, [`u${i}`]: period.until }));
  return variables;
}

function options(params) {
  return {
    interval: params.get("interval") === "MONTH" ? "MONTH" : "YEAR",
    from: params.get("from") || defaultFromYear(),
    currency: (params.get("currency") || "USD").toUpperCase(),
  };
}

function controls(chosen, go) {
  const intervals = [
    ["YEAR", "per year"],
    ["MONTH", `per month (last ${MOST_PERIODS})`],
  ];
  return filterForm(
    [
      field("Over time", select("interval", intervals, chosen.interval)),
      field("From year (per year)", input("from", chosen.from, { type: "number", min: "1970", max: "9999", step: "1" })),
      field("Reporting currency", input("currency", chosen.currency, { size: "4", maxlength: "3" })),
    ],
    go,
  );
}

function summary(shares) {
  const reporting = shares.length ? shares[0].value.currency : "";
  const usd = shares.find((share) => share.currency === "USD");
  return {
    total: { amount: sumDecimals(shares.map((share) => share.value.amount)), currency: reporting },
    payments: shares.reduce((count, share) => count + share.paymentCount, 0),
    usdShare: usd ? usd.share : 0,
  };
}

function byCurrency(shares, currency) {
  const figures = summary(shares);
  const shown = figures.total.currency ? money(figures.total) : `0 ${currency}`;
  return section(
    "All flows, by settlement currency",
    tiles([
      ["Value settled", shown, "total"],
      ["Payments", groupDigits(figures.payments), "payments"],
      ["USD share of value", percent(figures.usdShare), "usd-share"],
    ]),
    h(
      "div",
      { class: "split" },
      doughnutChart(
        "value-by-currency",
        shares.map((share) => share.currency),
        shares.map((share) => plotted(share.value.amount)),
      ),
      table(SHARE_COLUMNS, shares, "No flows have settled yet."),
    ),
  );
}

// Each currency keeps its colour of the chart above (the all-time order comes first).
function overTime(periods, results, all) {
  const currencies = [...new Set([...all, ...results.flat()].map((share) => share.currency))];
  const valueOf = (shares, currency) => {
    const found = shares.find((share) => share.currency === currency);
    return found ? plotted(found.value.amount) : 0;
  };
  const datasets = currencies.map((currency) => ({
    label: `${currency} value`,
    data: results.map((shares) => valueOf(shares, currency)),
    stack: "value",
  }));
  const counts = { type: "line", label: "Payments", yAxisID: "count", data: results.map((s) => summary(s).payments) };
  const scales = { x: { stacked: true }, y: { stacked: true }, count: { position: "right", beginAtZero: true } };
  const rows = periods.map((period, i) => ({ period: period.label, ...summary(results[i]) }));
  const columns = [
    { label: "Period", cell: (row) => row.period },
    { label: "Payments", cell: (row) => groupDigits(row.payments), numeric: true },
    { label: "Value", cell: (row) => (row.total.currency ? money(row.total) : "0"), numeric: true },
    { label: "USD share", cell: (row) => percent(row.usdShare), numeric: true },
  ];
  const labels = periods.map((period) => period.label);
  return section(
    "Payments and value over time",
    barChart("value-over-time", labels, [...datasets, counts], { scales }),
    h("details", {}, h("summary", {}, "Figures per period"), table(columns, rows)),
  );
}

export default {
  id: "overview",
  title: "Overview",
  async render(body, { params, go }) {
    const chosen = options(params);
    const periods = chosen.interval === "MONTH" ? lastMonths(MOST_PERIODS) : years(chosen.from, MOST_PERIODS);
    const form = controls(chosen, go);
    show(body, form, loading());
    try {
      const data = await query(sharesQuery(periods), sharesVariables(chosen.currency, periods));
      const results = periods.map((_, i) => data[`p${i}`]);
      show(body, form, byCurrency(data.all, chosen.currency), overTime(periods, results, data.all));
    } catch (error) {
      show(body, form, errorBox(error));
    }
  },
};
