// Corridor's dashboard: a hash router over the pages, the API key entered once and kept
// in this tab's session storage, and the caller's role, read from `{ viewer { role } }`.

import { apiKey, forgetKey, keepKey, query, VIEWER } from "./api.js";
import { destroyCharts } from "./charts.js";
import { follow, resetLive, stopAll } from "./live.js";
import { errorBox, h, loading, notice, show } from "./ui.js";
import overview from "./overview.js";
import corridors from "./corridors.js";
import reserves from "./reserves.js";
import indices from "./indices.js";
import payments from "./payments.js";
import settlement from "./settlement.js";
import cards from "./cards.js";

const PAGES = [overview, corridors, reserves, indices, payments, settlement, cards];
const HINTS = {
  UNAUTHENTICATED: "Use a valid key above: `make serve` prints an OPERATOR key, `corridor apikey` makes others.",
  UNREACHABLE: "Is `corridor serve` running?",
};
const root = document.getElementById("page");
const keyInput = document.getElementById("key");
const keyState = document.getElementById("key-state");
let viewer = null;
let renders = 0;

function current() {
  const [path, search = ""] = window.location.hash.replace(/^#\/?/, "").split("?");
  return { page: PAGES.find((page) => page.id === path) || PAGES[0], params: new URLSearchParams(search) };
}

// A page's filters live in the hash (#/corridors?a=RU&b=IR), so a view can be linked to.
function go(page, values) {
  const kept = Object.entries(values).filter(([, value]) => value !== "" && value !== null && value !== undefined);
  const search = new URLSearchParams(kept).toString();
  const hash = `#/${page.id}${search ? "?" + search : ""}`;
  if (window.location.hash === hash) {
    render();
  } else {
    window.location.hash = hash;
  }
}

function navigation() {
  const link = (page) => h("a", { href: `#/${page.id}`, "data-page": page.id }, page.title);
  document.getElementById("nav").replaceChildren(...PAGES.map(link));
}

function highlight(page) {
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === page.id);
  }
}

function describeViewer(who) {
  const institution = who.institution ? ` of ${who.institution.bic} (${who.institution.name})` : "";
  return `${who.role} key${institution}`;
}

async function loadViewer() {
  if (viewer === null) {
    try {
      viewer = (await query(VIEWER)).viewer;
    } catch (error) {
      keyState.textContent = "Key refused.";
      throw error;
    }
    keyState.textContent = describeViewer(viewer);
  }
  return viewer;
}

async function render() {
  const token = ++renders;
  const active = () => token === renders;
  stopAll();
  destroyCharts();
  const { page, params } = current();
  highlight(page);
  document.title = `${page.title} - Corridor`;
  if (!apiKey()) {
    keyState.textContent = "No key yet.";
    show(root, notice("Enter an API key", "Paste a key above and press Use key: `make serve` prints an OPERATOR key."));
    return;
  }
  show(root, loading());
  try {
    const who = await loadViewer();
    const body = h("div", { class: "page", "data-page": page.id });
    if (active()) {
      show(root, h("h1", {}, page.title), body);
    }
    const denied = page.deniedFor ? page.deniedFor(who) : null;
    if (denied) {
      show(body, notice(...denied));
      return;
    }
    const live = (...args) => active() && follow(...args);
    await page.render(body, { viewer: who, params, go: (values) => go(page, values), follow: live });
  } catch (error) {
    if (active()) {
      show(root, errorBox(error, HINTS));
    }
  }
}

function useKey(value) {
  viewer = null;
  resetLive();
  render();
  keyInput.value = value;
}

document.getElementById("key-bar").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = keyInput.value.trim();
  if (!value) {
    keyState.textContent = "Paste an API key first.";
    return;
  }
  keepKey(value);
  useKey(value);
});

document.getElementById("forget-key").addEventListener("click", () => {
  forgetKey();
  useKey("");
});

window.addEventListener("hashchange", render);
navigation();
keyInput.value = apiKey();
render();
