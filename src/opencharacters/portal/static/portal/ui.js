/** Small DOM helpers shared by the pages. */

/**
 * Builds an element: h("a", {href: "#", class: "x", onclick: fn}, "text", child, [more]).
 * Attributes starting with "on" become listeners; `false`/null attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const element = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "value" && !svg) {
      element.value = value;
    } else if (name === "checked" || name === "selected") {
      // The attribute too: it is the default that form.reset() restores.
      element.setAttribute(name, "");
      element[name] = true;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children, skipping null/false and flattening arrays. */
export function put(element, ...children) {
  append(element, children);
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

let ids = 0;
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

export const number = new Intl.NumberFormat("en");

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** One date format everywhere, the one the server names conversations with ("Dec 04, 2026
 * 07:31 UTC"): a conversation's name and its dates then read alike. */
export function formatDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const two = (n) => String(n).padStart(2, "0");
  return `${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())}, ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Tells screen readers what happened (a polite live region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** The page heading, focusable so that a route change can move focus to it. */
export function pageHead(title, ...actions) {
  return h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title), h("div", { class: "actions" }, actions));
}

export function statusBadge(status) {
  const text = String(status || "").replace(/_/g, " ").toLowerCase();
  return h("span", { class: "badge", "data-status": String(status).toLowerCase() }, text);
}

/** A modal confirmation (a <dialog>): resolves true when confirmed. */
export function confirmDialog(message, { title = "Are you sure?", confirm = "Delete" } = {}) {
  const dialog = document.getElementById("confirm");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-message").textContent = message;
  dialog.querySelector("#confirm-ok").textContent = confirm;
  dialog.returnValue = "";
  dialog.showModal();
  dialog.querySelector("button[value=cancel]").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

/**
 * A labelled control with its hint, live character count and error line.
 * Returns {wrap, input, error, setError}.
 */
export function field({ label, name, type = "text", value = "", hint, max, min, multiline, rows, required, placeholder, attrs = {} }) {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const countId = max ? `${id}-count` : null;
  const described = [hintId, countId, errorId].filter(Boolean).join(" ");
  const input = multiline
    ? h("textarea", { id, name, rows: rows || 4, required, placeholder, "aria-describedby": described, ...attrs })
    : h("input", { id, name, type, required, placeholder, "aria-describedby": described, ...attrs });
  input.value = value ?? "";
  const count = max ? h("span", { class: "count", id: countId }) : null;
  const update = () => {
    if (!count) return;
    const n = input.value.length; // UTF-16 code units, as the server counts (docs/api.md)
    count.textContent = `${number.format(n)} / ${number.format(max)}`;
    const bad = n > max || (min && n > 0 && n < min);
    count.classList.toggle("over", Boolean(bad));
  };
  input.addEventListener("input", update);
  update();
  const error = h("p", { class: "field-error", id: errorId, "aria-live": "polite" });
  const wrap = h(
    "div",
    { class: "field", "data-field": name },
    h("div", { class: "label-row" }, h("span", {}, h("label", { for: id }, label), required ? h("span", { class: "req", "aria-hidden": "true", title: "required" }, " *") : null), count),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  const setError = (message) => {
    error.textContent = message || "";
    input.toggleAttribute("aria-invalid", Boolean(message));
    if (message) input.setAttribute("aria-invalid", "true");
  };
  input.addEventListener("input", () => setError(""));
  return { wrap, input, error, setError, update };
}

/**
 * Shows an API error next to the field it names ("personality: must be at most …"), else in the
 * form's summary. The message is the server's, verbatim.
 */
export function showApiError(form, summary, error) {
  const message = error && error.message ? error.message : String(error);
  const match = /^([A-Za-z_]+)[\[.:]/.exec(message);
  const root = match && match[1];
  const wrap = root && form.querySelector(`[data-field="${root}"]`);
  // The exact control when the form marks one with the API's path ("tools[0].name").
  const path = /^([\w.\[\]]+):/.exec(message)?.[1];
  const exact = path && wrap ? wrap.querySelector(`.field-error[data-path="${CSS.escape(path)}"]`) : null;
  const line = exact || (wrap && wrap.querySelector(".field-error"));
  if (line) {
    line.textContent = message;
    const control = (exact ? exact.parentElement : wrap).querySelector("input, textarea, select");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    summary.textContent = "Please fix the highlighted field.";
  } else {
    summary.textContent = message;
  }
  summary.hidden = false;
}

// ----- audio previews: one at a time ------------------------------------------------------------

let player = null;
let playingButton = null;

function resetButton() {
  if (!playingButton) return;
  playingButton.dataset.playing = "false";
  playingButton.setAttribute("aria-pressed", "false");
  playingButton.querySelector(".icon").textContent = "▶";
  playingButton = null;
}

/** A play/stop button for a preview URL (or an async function that returns one). */
export function playButton(label, source) {
  const button = h(
    "button",
    { type: "button", class: "play", "aria-pressed": "false", "aria-label": `Play ${label}`, title: `Play ${label}`, "data-playing": "false" },
    h("span", { class: "icon", "aria-hidden": "true" }, "▶"),
  );
  button.addEventListener("click", async () => {
    const wasMe = playingButton === button;
    stopPreview();
    if (wasMe) return;
    playingButton = button;
    button.setAttribute("aria-pressed", "true");
    button.querySelector(".icon").textContent = "■";
    button.dataset.playing = "loading";
    try {
      const url = typeof source === "function" ? await source() : source;
      if (playingButton !== button) return;
      player = new Audio(url);
      player.addEventListener("playing", () => {
        if (playingButton === button) button.dataset.playing = "true";
      });
      player.addEventListener("ended", () => {
        if (playingButton === button) {
          button.dataset.played = "true";
          resetButton();
        }
      });
      await player.play();
    } catch (error) {
      if (playingButton === button) resetButton();
      announce(`Could not play the preview: ${error.message || error}`);
    }
  });
  return button;
}

export function stopPreview() {
  if (player) {
    player.pause();
    player = null;
  }
  resetButton();
}
