/** The portal shell: sign-in, navigation and a hash router (#/page/param?query). */

import { api, apiKey, onUnauthorized } from "./api.js";
import { h, announce, stopPreview, confirmDialog } from "./ui.js";
import { wouldLoseWork, setLeaveGuard } from "./leave.js";
import * as characters from "./characters.js";
import * as call from "./call.js";
import * as conversations from "./conversations.js";
import * as voices from "./voices.js";
import * as documents from "./documents.js";
import * as usage from "./usage.js";
import * as keys from "./keys.js";
import * as webhooks from "./webhooks.js";

const routes = {
  characters: (main, [id]) => (id ? characters.editor(main, id) : characters.gallery(main)),
  test: (main, [id]) => call.page(main, id),
  conversations: (main, [id], query) => (id ? conversations.detail(main, id) : conversations.list(main, query)),
  voices: (main) => voices.page(main),
  documents: (main) => documents.page(main),
  usage: (main) => usage.page(main),
  keys: (main) => keys.page(main),
  webhooks: (main) => webhooks.page(main),
};

const main = document.getElementById("main");
const topbar = document.querySelector(".topbar");
let cleanup = null;
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const [name, ...params] = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: name || "characters", params, query: new URLSearchParams(search) };
}

let shownHash = location.hash;
let restoring = false;

/** A hash change away from unsaved work asks first; "Stay" puts the address back. */
async function navigate() {
  if (restoring) {
    restoring = false;
    return;
  }
  if (wouldLoseWork()) {
    const leave = await confirmDialog("Your changes on this page are not saved. Leave anyway and lose them?", { title: "Leave this page?", confirm: "Leave without saving" });
    if (!leave) {
      restoring = true;
      location.hash = shownHash;
      return;
    }
    setLeaveGuard(null);
  }
  route();
}

async function route() {
  shownHash = location.hash;
  if (cleanup) {
    const previous = cleanup;
    cleanup = null;
    try {
      await previous();
    } catch (error) {
      console.warn("leaving the page:", error);
    }
  }
  stopPreview();
  generation += 1;
  const mine = generation;
  if (!apiKey.get()) {
    signIn();
    return;
  }
  topbar.hidden = false;
  const { name, params, query } = parseHash();
  const render = routes[name];
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  main.dataset.page = name;
  main.setAttribute("aria-busy", "true");
  if (!render) {
    main.append(h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/characters" }, "Back to your characters")));
  } else {
    try {
      const done = await render(main, params, query);
      if (mine !== generation) {
        if (typeof done === "function") await done();
        return;
      }
      cleanup = typeof done === "function" ? done : null;
    } catch (error) {
      if (mine !== generation) return;
      main.append(h("p", { class: "error-box", role: "alert" }, error.message || String(error)));
    }
  }
  main.removeAttribute("aria-busy");
  document.title = `${main.querySelector("h1")?.textContent || "Portal"} · OpenCharacters`;
  if (route.moved) main.querySelector("h1")?.focus({ preventScroll: false });
  route.moved = true;
}

function signIn(message = "") {
  topbar.hidden = true;
  document.title = "Sign in · OpenCharacters";
  main.dataset.page = "sign-in";
  const input = h("input", {
    id: "api-key", name: "apiKey", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, "aria-describedby": "api-key-hint api-key-error", placeholder: "oc_…",
  });
  const error = h("p", { class: "field-error", id: "api-key-error", role: "alert" }, message);
  const button = h("button", { type: "submit", class: "button primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("img", { src: "/portal/icon.svg", alt: "", width: 56, height: 56 }),
    h("h1", { id: "sign-in-title", tabindex: "-1" }, "OpenCharacters portal"),
    h("p", {}, "Create, preview, test and review your characters."),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input, error),
    h(
      "p",
      { class: "hint", id: "api-key-hint" },
      "Paste an API key of your organization: ",
      h("code", {}, "make run"),
      " prints one, and ",
      h("code", {}, "opencharacters keys create"),
      " makes more. The key stays in this tab only (sessionStorage): it is forgotten when the tab closes and is sent to this server only.",
    ),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = "Paste your API key.";
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      await api("GET", "/v1/avatars?limit=1", undefined, { key });
      apiKey.set(key);
      announce("Signed in");
      route.moved = true; // focus the first page's heading
      if (!location.hash || location.hash === "#") location.hash = "#/characters";
      else route();
    } catch (failure) {
      error.textContent = failure.message;
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  main.replaceChildren(form);
  input.focus();
}

export function signOut(message = "") {
  if (cleanup) {
    const previous = cleanup;
    cleanup = null;
    Promise.resolve(previous()).catch(() => {});
  }
  stopPreview();
  setLeaveGuard(null);
  apiKey.clear();
  signIn(message);
  announce("Signed out");
}

/** Each data-table cell carries its column's name (data-label), which phone-width CSS shows
 * beside the value when rows stack. One observer labels every table any page renders. */
function labelCells(root) {
  for (const table of root.querySelectorAll ? root.querySelectorAll("table.data") : []) {
    // A column whose heading is only for screen readers (the buttons) gets no visible label.
    const names = [...table.querySelectorAll("thead th")].map((th) => (th.querySelector(".visually-hidden") ? "" : th.textContent.trim()));
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (names[i] && !cell.dataset.label) cell.dataset.label = names[i];
      });
    }
  }
}
new MutationObserver(() => labelCells(main)).observe(main, { childList: true, subtree: true });

onUnauthorized((message) => signOut(message));
document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", navigate);
route();
