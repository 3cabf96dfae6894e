// Charts (Chart.js, from the service): a chart plots Number(...) of the API's Decimal
// strings, since it needs numbers; the exact strings are in the tables beside it.

import { h } from "./ui.js";

const drawn = new Set();
const COLORS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

export function color(index) {
  return COLORS[index % COLORS.length];
}

// A Decimal string as a number for plotting only (null stays a gap).
export function plotted(text) {
  return text === null || text === undefined ? null : Number(text);
}

function canvasFor(name, config) {
  const canvas = h("canvas", { "data-chart": name, "aria-label": name, role: "img" });
  const box = h("div", { class: "chart" }, canvas);
  if (!window.Chart) {
    box.replaceChildren(h("p", { class: "empty" }, "Charts unavailable: the Chart.js script did not load."));
    return box;
  }
  const options = { animation: false, responsive: true, maintainAspectRatio: false, ...config.options };
  drawn.add(new window.Chart(canvas, { ...config, options }));
  return box;
}

function series(datasets, type) {
  return datasets.map((dataset, index) => ({
    borderColor: color(index),
    backgroundColor: type === "line" ? color(index) : color(index) + "cc",
    spanGaps: true,
    ...dataset,
  }));
}

export function lineChart(name, labels, datasets, options = {}) {
  return canvasFor(name, { type: "line", data: { labels, datasets: series(datasets, "line") }, options });
}

export function barChart(name, labels, datasets, options = {}) {
  return canvasFor(name, { type: "bar", data: { labels, datasets: series(datasets, "bar") }, options });
}

export function doughnutChart(name, labels, values) {
  const dataset = { data: values, backgroundColor: labels.map((_, index) => color(index)) };
  return canvasFor(name, { type: "doughnut", data: { labels, datasets: [dataset] } });
}

export const PERCENT_AXIS = { min: 0, max: 100, ticks: { callback: (value) => `${value}%` } };

// Leaving a page: its charts let go of their canvases.
export function destroyCharts() {
  drawn.forEach((chart) => chart.destroy());
  drawn.clear();
}

// New figures for a drawn chart (live updates): one data list per dataset.
export function redraw(box, labels, data) {
  const canvas = box.querySelector("canvas");
  const chart = canvas && window.Chart ? window.Chart.getChart(canvas) : null;
  if (!chart) {
    return;
  }
  chart.data.labels = labels;
  data.forEach((values, index) => {
    chart.data.datasets[index].data = values;
  });
  chart.update();
}
