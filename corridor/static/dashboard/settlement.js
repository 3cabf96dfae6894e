// Settlement: the windows (gross, net, netting efficiency), a window's positions and
// transfers, and for an operator the close and settle buttons, each confirmed first;
// refusals are shown as the API words them (the payload's errors { code message field }).

import { mutate, query } from "./api.js";
import { barChart, PERCENT_AXIS, redraw } from "./charts.js";
import { day, money, percent, when } from "./format.js";
import {
  confirmAction,
  errorBox,
  h,
  liveBadge,
  loading,
  notice,
  section,
  show,
  success,
  table,
  userErrors,
} from "./ui.js";

const WINDOW = `id scope currency state openedAt closedAt settledAt obligationCount
  grossValue { amount currency } netValue { amount currency } nettingEfficiency
  positions {
    institution { bic name } receivable { amount currency } payable { amount currency } net { amount currency }
  }
  transfers { amount { amount currency } debitAccount { name owner { bic } } creditAccount { name owner { bic } } }`;
const WINDOWS = `{ settlementWindows(first: 50) { edges { node { ${WINDOW} } } } }`;
const CLOSE = `mutation Close($scope: String!, $currency: String!) {
  closeSettlementWindow(scope: $scope, currency: $currency) { window { ${WINDOW} } errors { code message field } }
}`;
const SETTLE = `mutation Settle($id: ID!) {
  settleSettlementWindow(windowId: $id) { window { ${WINDOW} } errors { code message field } }
}`;
const STREAM = "subscription { settlementWindows { id state } }";

function count(number, noun) {
  return `${number} ${noun}${number === 1 ? "" : "s"}`;
}

function label(window) {
  return `${window.scope} ${window.currency}`;
}

function roleNote(viewer) {
  if (viewer.role === "OPERATOR") {
    return null;
  }
  const positions =
    viewer.role === "ANALYST"
      ? "An ANALYST key sees every window's figures and no positions."
      : "A PARTICIPANT key sees the windows its institution has a position in, and only its own position.";
  return notice(`Closing and settling windows is for OPERATOR keys; this is a ${viewer.role} key.`, positions);
}

const POSITION_COLUMNS = [
  { label: "Institution", cell: (row) => `${row.institution.bic} ${row.institution.name}` },
  { label: "Receivable", cell: (row) => money(row.receivable), numeric: true },
  { label: "Payable", cell: (row) => money(row.payable), numeric: true },
  { label: "Net", cell: (row) => money(row.net), numeric: true },
];
const TRANSFER_COLUMNS = [
  { label: "From", cell: (row) => `${row.debitAccount.owner.bic} ${row.debitAccount.name}` },
  { label: "To", cell: (row) => `${row.creditAccount.owner.bic} ${row.creditAccount.name}` },
  { label: "Amount", cell: (row) => money(row.amount), numeric: true },
];

function windowDetails(window) {
  return section(
    `${label(window)} window, ${window.state}, opened ${when(window.openedAt)}`,
    h("h3", {}, "Positions"),
    table(POSITION_COLUMNS, window.positions, "No positions that this key may see."),
    h("h3", {}, "Settlement transfers"),
    table(TRANSFER_COLUMNS, window.transfers, "None: the window is not settled."),
  );
}

const WINDOW_COLUMNS = [
  { label: "Window", cell: label },
  { label: "State", cell: (window) => window.state },
  { label: "Opened", cell: (window) => when(window.openedAt) },
  { label: "Closed", cell: (window) => when(window.closedAt) },
  { label: "Settled", cell: (window) => when(window.settledAt) },
  { label: "Obligations", cell: (window) => String(window.obligationCount), numeric: true },
  { label: "Gross", cell: (window) => money(window.grossValue), numeric: true },
  { label: "Net", cell: (window) => money(window.netValue), numeric: true },
  { label: "Efficiency", cell: (window) => percent(window.nettingEfficiency), numeric: true },
];

// The windows, the outcome of the last close or settle, and the window whose details show.
class SettlementView {
  constructor(viewer, follow) {
    this.operator = viewer.role === "OPERATOR";
    this.windows = [];
    this.selected = null;
    this.outcome = h("div", { class: "outcome" });
    this.list = h("div", {}, loading());
    this.detail = h("div", {});
    const axis = { scales: { y: PERCENT_AXIS } };
    this.chart = barChart("netting-efficiency", [], [{ label: "Netting efficiency", data: [] }], axis);
    this.badge = liveBadge();
    this.parts = [roleNote(viewer), this.outcome, this.badge, section("Windows", this.chart, this.list), this.detail];
    let pending = null;
    const changed = () => {
      clearTimeout(pending);
      pending = setTimeout(() => this.refresh(), 300); // a close changes two windows: one reload
    };
    follow(STREAM, {}, changed, this.badge);
  }

  async refresh() {
    try {
      this.windows = (await query(WINDOWS)).settlementWindows.edges.map((edge) => edge.node);
      this.paint();
    } catch (error) {
      show(this.list, errorBox(error));
    }
  }

  paint() {
    const columns = [...WINDOW_COLUMNS, { label: "", cell: (window) => this.actions(window) }];
    const rows = table(columns, this.windows, "No settlement windows that this key may see.");
    rows.querySelectorAll("tbody tr").forEach((row, i) => (row.dataset.window = this.windows[i].id));
    show(this.list, rows);
    const shown = this.windows.filter((window) => window.obligationCount > 0);
    const labels = shown.map((window) => `${label(window)} ${window.state} ${day(window.openedAt)}`);
    redraw(this.chart, labels, [shown.map((window) => window.nettingEfficiency * 100)]);
    const selected = this.windows.find((window) => window.id === this.selected);
    show(this.detail, selected ? windowDetails(selected) : null);
  }

  actions(window) {
    const button = (text, action, onclick) => h("button", { type: "button", "data-action": action, onclick }, text);
    const buttons = [button("Details", null, () => this.select(window))];
    if (this.operator && window.state === "OPEN") {
      buttons.push(button("Close", "close", () => this.close(window)));
    }
    if (this.operator && window.state === "CLOSED") {
      buttons.push(button("Settle", "settle", () => this.settle(window)));
    }
    return h("span", { class: "actions" }, buttons);
  }

  select(window) {
    this.selected = window.id;
    show(this.detail, windowDetails(window));
  }

  close(window) {
    const question = `Close the OPEN ${label(window)} window? Its positions are fixed and the next window opens.`;
    const said = (closed) =>
      `Closed the ${label(closed)} window: ${count(closed.obligationCount, "obligation")}, ` +
      `net ${money(closed.netValue)}.`;
    const variables = { scope: window.scope, currency: window.currency };
    return this.act(question, CLOSE, variables, "closeSettlementWindow", said);
  }

  settle(window) {
    const net = money(window.netValue);
    const question = `Settle the CLOSED ${label(window)} window on the ledger? Net payers pay ${net} in all.`;
    const said = (settled) => `Settled the ${label(settled)} window at ${when(settled.settledAt)}.`;
    return this.act(question, SETTLE, { id: window.id }, "settleSettlementWindow", said);
  }

  // Confirmed first; the payload's errors are shown as the API words them.
  async act(question, document, variables, field, said) {
    if (!(await confirmAction(question))) {
      return;
    }
    show(this.outcome, loading("Sending..."));
    try {
      const payload = await mutate(document, variables, field);
      show(this.outcome, payload.errors.length ? userErrors(payload.errors) : success(said(payload.window)));
    } catch (error) {
      show(this.outcome, errorBox(error));
    }
    await this.refresh();
  }
}

export default {
  id: "settlement",
  title: "Settlement",
  async render(body, { viewer, follow }) {
    const view = new SettlementView(viewer, follow);
    show(body, view.parts);
    await view.refresh();
  },
};
