// Live updates: the graphql-transport-ws protocol on the same /graphql path, the key in
// connection_init's payload as {"Authorization": "Bearer <key>"}. When the socket fails,
// each page keeps its query results and its badge says live updates are unavailable.

import { apiKey, errorCode } from "./api.js";

let client = null;
let socket = { state: "connecting", reason: "" };
const badges = new Set();
const stops = new Set();

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/graphql`;
}

function closeReason(event) {
  const reason = event && event.reason ? `: ${event.reason}` : "";
  return `the socket closed (${event && event.code ? event.code : "no code"}${reason})`;
}

function setSocket(state, reason = "") {
  socket = { state, reason };
  badges.forEach(paint);
}

function shared() {
  if (client === null) {
    client = window.graphqlWs.createClient({
      url: socketUrl(),
      connectionParams: () => ({ Authorization: `Bearer ${apiKey()}` }),
      lazy: true,
      lazyCloseTimeout: 3000, // a page change keeps the socket for the next page
      retryAttempts: 3,
      on: {
        connected: () => setSocket("live"),
        closed: (event) => setSocket(event && event.code === 1000 ? "connecting" : "unavailable", closeReason(event)),
        error: () => setSocket("unavailable", "the socket could not connect"),
      },
    });
  }
  return client;
}

function paint(badge) {
  const failed = badge.dataset.failure;
  const state = failed ? "unavailable" : socket.state;
  const reason = failed || socket.reason;
  badge.dataset.state = state;
  badge.textContent = {
    connecting: "Connecting live updates...",
    live: "Live: new items appear as they happen",
    unavailable: `Live updates unavailable (${reason}); the figures shown are the query's, reload to refresh`,
  }[state];
}

export function describe(failure) {
  if (Array.isArray(failure)) {
    return failure.map((error) => `${error.message} ${errorCode(error)}`).join("; ");
  }
  if (failure && typeof failure.code === "number") {
    return closeReason(failure);
  }
  return failure && failure.message ? failure.message : String(failure);
}

// Follow a subscription: `onData(data)` for each event; failures paint `badge`.
export function follow(document, variables, onData, badge) {
  badges.add(badge);
  if (!window.graphqlWs) {
    badge.dataset.failure = "the graphql-ws script did not load";
    paint(badge);
    return;
  }
  paint(badge);
  const fail = (failure) => {
    badge.dataset.failure = describe(failure);
    paint(badge);
  };
  const next = (message) => (message.errors ? fail(message.errors) : onData(message.data));
  const stop = shared().subscribe({ query: document, variables }, { next, error: fail, complete: () => {} });
  stops.add(stop);
}

// Leaving a page: its subscriptions end (the socket stays for the next page).
export function stopAll() {
  stops.forEach((stop) => stop());
  stops.clear();
  badges.clear();
}

// A new key: a new connection, authenticated with it.
export function resetLive() {
  stopAll();
  if (client !== null) {
    client.dispose();
    client = null;
  }
  socket = { state: "connecting", reason: "" };
}
