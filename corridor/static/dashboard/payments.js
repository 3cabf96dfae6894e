// Payments: the gpi tracker (payment(uetr:) and its events, then paymentEvents live) and
// the latest payments (the payments query, then the payments subscription).

import { query } from "./api.js";
import { barChart, redraw } from "./charts.js";
import { money, shortId, when } from "./format.js";
import {
  errorBox,
  field,
  filterForm,
  h,
  input,
  liveBadge,
  liveTable,
  loading,
  notice,
  section,
  select,
  show,
} from "./ui.js";

const FIELDS = `uetr status isoStatus reasonCode createdAt messageType remittanceInformation network { code }
  sender { bic name } receiver { bic name } amount { amount currency } debitAmount { amount currency }`;
const EVENT = "status isoStatus reasonCode detail at";
const TRACK = `query Track($uetr: UUID!) { payment(uetr: $uetr) { ${FIELDS} events { ${EVENT} } } }`;
const EVENTS = `subscription Tracker($uetr: UUID!) { paymentEvents(uetr: $uetr) { ${EVENT} } }`;
const LATEST = `query Latest($network: String, $status: PaymentStatus) {
  paymentNetworks { code }
  payments(first: 20, networkCode: $network, status: $status) { edges { node { ${FIELDS} } } }
}`;
const STREAM = `subscription Latest($network: String, $status: PaymentStatus) {
  payments(networkCode: $network, status: $status) { ${FIELDS} }
}`;
const STATUSES = ["RECEIVED", "ACCEPTED", "SETTLED", "REJECTED"];

function statusText(item) {
  return `${item.status} (${item.isoStatus}${item.reasonCode ? " " + item.reasonCode : ""})`;
}

function details(payment) {
  const item = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "dl",
    { class: "details" },
    item("UETR", payment.uetr),
    item("Status", h("span", { "data-status": payment.status }, statusText(payment))),
    item("Network", `${payment.network.code} (${payment.messageType})`),
    item("From", `${payment.sender.bic} ${payment.sender.name}`),
    item("To", `${payment.receiver.bic} ${payment.receiver.name}`),
    item("Amount", money(payment.amount)),
    item("Debtor paid", money(payment.debitAmount)),
    item("Remittance", payment.remittanceInformation || "—"),
    item("Created", when(payment.createdAt)),
  );
}

function eventItem(event) {
  const detail = event.detail ? `: ${event.detail}` : "";
  return h("li", { "data-status": event.status }, h("time", {}, when(event.at)), " ", statusText(event), detail);
}

function same(a, b) {
  return a.status === b.status && a.at === b.at;
}

// The tracker of one UETR: what the query says, then each event as it arrives.
class Tracker {
  constructor(uetr) {
    this.uetr = uetr;
    this.payment = null;
    this.events = [];
    this.view = h("div", { class: "tracker" });
    this.badge = liveBadge();
  }

  async load() {
    this.payment = (await query(TRACK, { uetr: this.uetr })).payment;
    const known = this.payment ? this.payment.events : [];
    this.events = [...known, ...this.events.filter((event) => !known.some((seen) => same(seen, event)))];
  }

  paint() {
    const head = this.payment
      ? details(this.payment)
      : notice(`No payment with the UETR ${this.uetr} that this key may see, yet.`, "The tracker waits for it.");
    const timeline = this.events.length
      ? h("ol", { class: "timeline" }, this.events.map(eventItem))
      : h("p", { class: "empty" }, "None yet.");
    show(this.view, head, h("h3", {}, "Events"), timeline);
  }

  async received({ paymentEvents: event }) {
    if (!this.events.some((seen) => same(seen, event))) {
      this.events.push(event);
    }
    if (this.payment) {
      Object.assign(this.payment, { status: event.status, isoStatus: event.isoStatus, reasonCode: event.reasonCode });
    } else {
      await this.load(); // its first event: the payment itself is there to show now
    }
    this.paint();
  }
}

async function tracker(uetr, follow) {
  const tracking = new Tracker(uetr);
  await tracking.load();
  tracking.paint();
  follow(EVENTS, { uetr }, (data) => tracking.received(data), tracking.badge);
  return [tracking.badge, tracking.view];
}

function trackerSection(params, go, follow) {
  const uetr = (params.get("uetr") || "").trim();
  const form = filterForm(
    [field("UETR", input("uetr", uetr, { size: "40", placeholder: "e4d245c3-51bb-41fb-9c55-63d9f737d4de" }))],
    (values) => go({ ...Object.fromEntries(params), ...values }),
    "Track",
  );
  const area = h("div", {}, uetr ? loading() : h("p", { class: "empty" }, "Enter a payment's UETR to follow it."));
  if (uetr) {
    tracker(uetr, follow).then(
      (parts) => show(area, parts),
      (error) => show(area, errorBox(error)),
    );
  }
  return section("Tracker", form, area);
}

const COLUMNS = [
  { label: "Created", cell: (payment) => when(payment.createdAt) },
  { label: "UETR", cell: (payment) => h("a", { href: `#/payments?uetr=${payment.uetr}` }, shortId(payment.uetr)) },
  { label: "Network", cell: (payment) => payment.network.code },
  { label: "From", cell: (payment) => payment.sender.bic },
  { label: "To", cell: (payment) => payment.receiver.bic },
  { label: "Amount", cell: (payment) => money(payment.amount), numeric: true },
  { label: "Status", cell: statusText },
];

function latestFilters(networks, params, go) {
  const anyOf = (values) => [["", "any"], ...values.map((value) => [value, value])];
  return filterForm(
    [
      field("Network", select("network", anyOf(networks.map((network) => network.code)), params.get("network") || "")),
      field("Status", select("status", anyOf(STATUSES), params.get("status") || "")),
    ],
    (values) => go({ ...Object.fromEntries(params), ...values }),
  );
}

function statusCounts(rows) {
  return STATUSES.map((status) => rows.filter((payment) => payment.status === status).length);
}

// The latest payments, newest first; the subscription puts each new or changed one on top.
function latestList(payments, follow, variables) {
  const list = liveTable(COLUMNS, payments, "uetr");
  const chart = barChart("payments-by-status", STATUSES, [{ label: "Latest payments", data: statusCounts(payments) }]);
  const badge = liveBadge();
  const arrived = ({ payments: payment }) => {
    list.upsert(payment);
    redraw(chart, STATUSES, [statusCounts(list.rows)]);
  };
  follow(STREAM, variables, arrived, badge);
  return [badge, chart, list.element];
}

async function latestSection(params, go, follow) {
  const variables = { network: params.get("network") || null, status: params.get("status") || null };
  const data = await query(LATEST, variables);
  const payments = data.payments.edges.map((edge) => edge.node);
  return section(
    "Latest payments",
    latestFilters(data.paymentNetworks, params, go),
    latestList(payments, follow, variables),
  );
}

export default {
  id: "payments",
  title: "Payments",
  deniedFor(viewer) {
    if (viewer.role !== "ANALYST") {
      return null;
    }
    return [
      "This page is not for an ANALYST key",
      "An analyst sees no individual payment of an institution: the API answers an empty list and no tracker.",
      "Use an OPERATOR key, or a PARTICIPANT key for its own institution's payments; " +
        "the Overview and Corridors pages show the flows' figures.",
    ];
  },
  async render(body, { params, go, follow }) {
    const latest = h("div", {}, loading());
    show(body, trackerSection(params, go, follow), latest);
    try {
      show(latest, await latestSection(params, go, follow));
    } catch (error) {
      show(latest, errorBox(error));
    }
  },
};
