// Building the page: elements from plain values (text is always text, never HTML), tables,
// forms, the API's errors as it words them, and the confirmation dialog.

import { errorCode } from "./api.js";

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) {
      element.addEventListener(name.slice(2), value);
    } else if (value !== null && value !== undefined && value !== false) {
      element.setAttribute(name, value === true ? "" : value);
    }
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function tiles(items) {
  const tile = ([label, value, testId]) =>
    h("div", { class: "tile", "data-tile": testId }, h("span", { class: "label" }, label), h("strong", {}, value));
  return h("div", { class: "tiles" }, items.map(tile));
}

// columns: [{ label, cell(row) -> text or node, numeric }]
export function table(columns, rows, empty = "Nothing to show.") {
  if (!rows.length) {
    return h("p", { class: "empty" }, empty);
  }
  return h(
    "table",
    {},
    h("thead", {}, headRow(columns)),
    h(
      "tbody",
      {},
      rows.map((row) => tableRow(columns, row)),
    ),
  );
}

function headRow(columns) {
  return h(
    "tr",
    {},
    columns.map((column) => h("th", { class: column.numeric ? "num" : null }, column.label)),
  );
}

export function tableRow(columns, row, attributes = {}) {
  const cells = columns.map((column) => h("td", { class: column.numeric ? "num" : null }, column.cell(row)));
  return h("tr", attributes, cells);
}

// A table a subscription keeps current, newest first: `upsert` puts an item on top,
// in place of its older row (items are told apart by `keyName`); at most `most` rows.
export function liveTable(columns, items, keyName, most = 50) {
  const rows = [...items];
  const attributes = (item) => ({ "data-key": item[keyName] });
  const body = h(
    "tbody",
    {},
    rows.map((item) => tableRow(columns, item, attributes(item))),
  );
  const upsert = (item) => {
    const at = rows.findIndex((row) => row[keyName] === item[keyName]);
    if (at >= 0) {
      rows.splice(at, 1);
      body.children[at].remove();
    }
    rows.unshift(item);
    body.prepend(tableRow(columns, item, { ...attributes(item), class: "new" }));
    rows.splice(most);
    while (body.children.length > most) {
      body.lastElementChild.remove();
    }
  };
  return { element: h("table", { class: "live-table" }, h("thead", {}, headRow(columns)), body), rows, upsert };
}

export function notice(title, ...lines) {
  return h(
    "div",
    { class: "notice", role: "note" },
    h("strong", {}, title),
    lines.map((line) => h("p", {}, line)),
  );
}

// GraphQL errors and refusals: each message with its extensions.code; `hints` explains codes.
export function errorBox(error, hints = {}) {
  const errors = error && error.errors ? error.errors : [{ message: String(error && error.message) }];
  const items = errors.map((item) => {
    const code = errorCode(item);
    return h(
      "li",
      {},
      h("code", { class: "code" }, code),
      " ",
      item.message,
      hints[code] ? h("p", {}, hints[code]) : null,
    );
  });
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, "The API answered with an error"),
    h("ul", {}, items),
  );
}

// A mutation payload's `errors { code message field }`, as the API words them.
export function userErrors(errors) {
  const item = (error) =>
    h(
      "li",
      {},
      h("code", { class: "code" }, error.code),
      " ",
      error.message,
      error.field ? h("span", { class: "field" }, ` (field ${error.field.join(".")})`) : null,
    );
  return h("div", { class: "error", role: "alert" }, h("strong", {}, "Refused"), h("ul", {}, errors.map(item)));
}

export function success(text) {
  return h("div", { class: "success", role: "status" }, text);
}

export function loading(text = "Loading...") {
  return h("p", { class: "loading" }, text);
}

export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

export function select(name, options, value) {
  const option = ([key, text]) => h("option", { value: key, selected: key === value }, text);
  return h("select", { name }, options.map(option));
}

export function input(name, value, attributes = {}) {
  return h("input", { name, value, ...attributes });
}

// A form whose submit hands its values to `onSubmit` (the page keeps them in the hash).
export function filterForm(controls, onSubmit, button = "Show") {
  const form = h("form", { class: "filters" }, controls, h("button", { type: "submit" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(Object.fromEntries(new FormData(form)));
  });
  return form;
}

// Replace what an element shows.
export function show(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

export function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

export function liveBadge() {
  return h("span", { class: "live", role: "status", "data-state": "connecting" }, "Connecting live updates...");
}
