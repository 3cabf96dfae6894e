// Cards: the latest authorizations (route, ISO 8583 response code, amounts), then each
// new one as it is decided (the authorizations subscription).

import { query } from "./api.js";
import { barChart, redraw } from "./charts.js";
import { money, shortId, when } from "./format.js";
import { errorBox, field, filterForm, h, liveBadge, liveTable, loading, section, select, show } from "./ui.js";

const FIELDS = `authorizationId createdAt responseCode approved declineReason route state scheme { code }
  amount { amount currency } cardholderAmount { amount currency } fee { amount currency }
  capturedAmount { amount currency } refundedAmount { amount currency } merchant { name } card { maskedPan }`;
const LATEST = `query Authorizations($merchant: ID) {
  merchants(first: 100) { edges { node { id name } } }
  authorizations(first: 25, merchantId: $merchant) { edges { node { ${FIELDS} } } }
}`;
const STREAM = `subscription Authorizations($merchant: ID) { authorizations(merchantId: $merchant) { ${FIELDS} } }`;

function response(item) {
  const reason = item.declineReason ? `: ${item.declineReason}` : "";
  return h(
    "span",
    { title: item.declineReason || "approved" },
    `${item.responseCode} ${item.approved ? "approved" : "declined"}${reason}`,
  );
}

const COLUMNS = [
  { label: "Time", cell: (item) => when(item.createdAt) },
  { label: "Authorization", cell: (item) => shortId(item.authorizationId) },
  { label: "Merchant", cell: (item) => item.merchant.name },
  { label: "Card", cell: (item) => (item.card ? item.card.maskedPan : "—") },
  { label: "Scheme", cell: (item) => (item.scheme ? item.scheme.code : "—") },
  { label: "Route", cell: (item) => item.route || "—" },
  { label: "Response", cell: response },
  { label: "State", cell: (item) => item.state },
  { label: "Amount", cell: (item) => money(item.amount), numeric: true },
  { label: "Cardholder paid", cell: (item) => money(item.cardholderAmount), numeric: true },
  { label: "Captured", cell: (item) => money(item.capturedAmount), numeric: true },
  { label: "Link fee", cell: (item) => money(item.fee), numeric: true },
];

function codeCounts(items) {
  const codes = [...new Set(items.map((item) => item.responseCode))].sort();
  return [codes, codes.map((code) => items.filter((item) => item.responseCode === code).length)];
}

function merchantFilter(merchants, params, go) {
  const choices = [["", "any"], ...merchants.map((merchant) => [merchant.id, merchant.name])];
  return filterForm([field("Merchant", select("merchant", choices, params.get("merchant") || ""))], go);
}

// Newest first; the subscription puts each new or changed authorization on top.
function authorizationList(items, follow, variables) {
  const list = liveTable(COLUMNS, items, "authorizationId");
  const [codes, counts] = codeCounts(items);
  const chart = barChart("response-codes", codes, [{ label: "Latest authorizations by response code", data: counts }]);
  const badge = liveBadge();
  const arrived = ({ authorizations: item }) => {
    list.upsert(item);
    const [labels, values] = codeCounts(list.rows);
    redraw(chart, labels, [values]);
  };
  follow(STREAM, variables, arrived, badge);
  return [badge, chart, list.element];
}

export default {
  id: "cards",
  title: "Cards",
  deniedFor(viewer) {
    if (viewer.role !== "ANALYST") {
      return null;
    }
    return [
      "This page is not for an ANALYST key",
      "An analyst sees no card, merchant or authorization: they are the issuers' and acquirers' business, " +
        "and the API answers empty lists.",
      "Use an OPERATOR key, or a PARTICIPANT key for the authorizations its institution acquired " +
        "or issued the card of.",
    ];
  },
  async render(body, { params, go, follow }) {
    show(body, loading());
    const variables = { merchant: params.get("merchant") || null };
    try {
      const data = await query(LATEST, variables);
      const merchants = data.merchants.edges.map((edge) => edge.node);
      const items = data.authorizations.edges.map((edge) => edge.node);
      show(
        body,
        section(
          "Latest authorizations",
          merchantFilter(merchants, params, go),
          authorizationList(items, follow, variables),
        ),
      );
    } catch (error) {
      show(body, errorBox(error));
    }
  },
};
