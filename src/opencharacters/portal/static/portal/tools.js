/**
 * The conversational actions (tools) editor. Runway's API declares tools per session
 * (POST /v1/realtime_sessions `tools`), not on the avatar, so the portal keeps each character's
 * tools in this browser (localStorage) and sends them with its test calls; the JSON shown is what
 * a backend sends. The rules are the API's (runway-api.md §3.6), checked before sending.
 */

import { h, uid } from "./ui.js";

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PARAMETER_TYPES = ["string", "integer", "number", "boolean", "array"];
const STORE = "opencharacters.portal.tools.";

export function loadTools(avatarId) {
  try {
    const tools = JSON.parse(localStorage.getItem(STORE + avatarId) || "[]");
    return Array.isArray(tools) ? tools : [];
  } catch {
    return [];
  }
}

export function saveTools(avatarId, tools) {
  if (tools.length) localStorage.setItem(STORE + avatarId, JSON.stringify(tools));
  else localStorage.removeItem(STORE + avatarId);
}

function checkName(errors, path, value) {
  if (!value) errors.push([`${path}.name`, `${path}.name: must be at least 1 characters`]);
  else if (value.length > 64) errors.push([`${path}.name`, `${path}.name: must be at most 64 characters (got ${value.length})`]);
  else if (!NAME.test(value)) errors.push([`${path}.name`, `${path}.name: must match ^[a-zA-Z_][a-zA-Z0-9_]*$ (a letter or _ first, then letters, digits, _)`]);
}

function checkDescription(errors, path, value) {
  if (!value) errors.push([`${path}.description`, `${path}.description: must be at least 1 characters`]);
  else if (value.length > 1024) errors.push([`${path}.description`, `${path}.description: must be at most 1024 characters (got ${value.length})`]);
}

/** "tools[0].parameters[1].name" → "Tool 1, parameter 2 name": the labels the form shows. */
export function humanPath(path) {
  return path
    .replace(/^tools\[(\d+)\]/, (_, i) => `Tool ${Number(i) + 1}`)
    .replace(/\.parameters\[(\d+)\]/, (_, j) => `, parameter ${Number(j) + 1}`)
    .replace(/\.(\w+)$/, (_, key) => ` ${{ timeoutSeconds: "timeout" }[key] || key}`)
    .replace(/^tools$/, "Tools");
}

/** A message that starts with an API path ("tools[0].name: …"), in the form's words. */
export function humanMessage(message) {
  return message.replace(/^(tools(?:\[\d+\](?:\.parameters\[\d+\])?(?:\.\w+)?)?): /, (_, path) => `${humanPath(path)}: `);
}

/** [[path, message]] for every rule broken; the API says the same things. */
export function validateTools(tools) {
  const errors = [];
  if (tools.length > 20) errors.push(["tools", `tools: may have at most 20 items (got ${tools.length})`]);
  const names = new Set();
  tools.forEach((tool, i) => {
    const path = `tools[${i}]`;
    checkName(errors, path, tool.name);
    if (tool.name && names.has(tool.name)) errors.push([`${path}.name`, `${path}.name: duplicate tool name ${JSON.stringify(tool.name)}`]);
    names.add(tool.name);
    checkDescription(errors, path, tool.description);
    if (tool.type === "backend_rpc") {
      const t = Number(tool.timeoutSeconds);
      if (!Number.isFinite(t) || t < 1 || t > 8) errors.push([`${path}.timeoutSeconds`, `${path}.timeoutSeconds: must be between 1 and 8 seconds`]);
    }
    const parameters = tool.parameters || [];
    if (parameters.length > 20) errors.push([`${path}.parameters`, `${path}.parameters: may have at most 20 items (got ${parameters.length})`]);
    const seen = new Set();
    parameters.forEach((p, j) => {
      const ppath = `${path}.parameters[${j}]`;
      checkName(errors, ppath, p.name);
      if (p.name && seen.has(p.name)) errors.push([`${ppath}.name`, `${ppath}.name: duplicate parameter name ${JSON.stringify(p.name)}`]);
      seen.add(p.name);
      checkDescription(errors, ppath, p.description);
    });
  });
  return errors;
}

/** The wire shape for POST /v1/realtime_sessions. */
export function wireTools(tools) {
  return tools.map((tool) => {
    const out = { type: tool.type, name: tool.name, description: tool.description };
    if (tool.type === "backend_rpc") out.timeoutSeconds = Number(tool.timeoutSeconds);
    out.parameters = (tool.parameters || []).map((p) => {
      const param = { type: p.type, name: p.name, description: p.description, required: Boolean(p.required) };
      if (p.type === "array") param.items = { type: p.items || "string" };
      return param;
    });
    return out;
  });
}

export function toolsEditor(initial) {
  const tools = structuredClone(initial);
  const list = h("ol", { class: "tool-list" });
  const json = h("pre", { class: "code" });
  const errors = new Map();
  const wrap = h(
    "fieldset",
    { class: "panel tools", "data-field": "tools" },
    h("legend", {}, "Actions (tools)"),
    h(
      "p",
      { class: "hint" },
      "Functions the character may call during a conversation: a client event reaches the caller's page over the data channel; a backend RPC calls your server. ",
      "Runway's API declares them per session, so the portal keeps them in this browser and sends them with your test calls.",
    ),
    list,
    h("button", { type: "button", class: "button small", id: "add-tool", onclick: () => add() }, "Add a tool"),
    h("p", { class: "field-error", "aria-live": "polite" }),
    h("details", {}, h("summary", {}, "JSON for POST /v1/realtime_sessions"), json),
  );

  function control(label, input, path) {
    const id = uid("tool");
    input.id = id;
    const error = h("p", { class: "field-error", id: `${id}-error`, "data-path": path });
    input.setAttribute("aria-describedby", `${id}-error`);
    return h("div", { class: "field" }, h("label", { for: id }, label), input, error);
  }

  function bind(input, object, key, rerender = false) {
    input.addEventListener(input.type === "checkbox" ? "change" : "input", () => {
      object[key] = input.type === "checkbox" ? input.checked : input.value;
      const line = input.parentElement.querySelector(".field-error");
      if (line) line.textContent = "";
      if (line?.dataset.path) errors.delete(line.dataset.path); // fixed: not shown again on render
      input.removeAttribute("aria-invalid");
      if (rerender) render();
      else refreshJson();
    });
    if (key === "name") {
      // Names are checked as soon as the field is left, not only on submit.
      input.addEventListener("blur", () => {
        const line = input.parentElement.querySelector(".field-error");
        if (!line || !input.value) return;
        const found = [];
        checkName(found, "x", input.value);
        if (found.length) {
          line.textContent = `${input.closest("tr") ? "Parameter name" : "Name"}: ${found[0][1].replace(/^x\.name: /, "")}`;
          input.setAttribute("aria-invalid", "true");
        }
      });
    }
    return input;
  }

  function select(options, value) {
    return h("select", {}, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  }

  function render() {
    const focusedId = document.activeElement?.dataset?.key;
    list.replaceChildren(
      ...tools.map((tool, i) => {
        const path = `tools[${i}]`;
        const typeSelect = bind(select([["client_event", "Client event"], ["backend_rpc", "Backend RPC"]], tool.type), tool, "type", true);
        const params = (tool.parameters ||= []);
        return h(
          "li",
          { class: "tool" },
          h("div", { class: "tool-head" }, h("h3", {}, `Tool ${i + 1}`), h("button", { type: "button", class: "button small ghost", "aria-label": `Remove tool ${i + 1}`, onclick: () => (tools.splice(i, 1), render()) }, "Remove")),
          h(
            "div",
            { class: "grid-3" },
            control(`Tool ${i + 1} type`, typeSelect, `${path}.type`),
            control(`Tool ${i + 1} name`, bind(h("input", { value: tool.name, placeholder: "show_product", dataset: { key: `${path}.name` } }), tool, "name"), `${path}.name`),
            tool.type === "backend_rpc"
              ? control(`Tool ${i + 1} timeout (s, 1–8)`, bind(h("input", { type: "number", min: 1, max: 8, step: "0.5", value: tool.timeoutSeconds ?? 4 }), tool, "timeoutSeconds"), `${path}.timeoutSeconds`)
              : h("div"),
          ),
          control(`Tool ${i + 1} description`, bind(h("textarea", { rows: 2, value: tool.description, placeholder: "When to call it and what it does" }), tool, "description"), `${path}.description`),
          h(
            "table",
            { class: "params" },
            h("caption", {}, `Parameters of tool ${i + 1}`),
            params.length ? h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Description"), h("th", { scope: "col" }, "Required"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))) : null,
            h(
              "tbody",
              {},
              params.map((p, j) => {
                const ppath = `${path}.parameters[${j}]`;
                const cell = (input, key, label) => {
                  input.setAttribute("aria-label", `${label} of parameter ${j + 1}`);
                  const error = h("p", { class: "field-error", "data-path": `${ppath}.${key}` });
                  return h("td", {}, input, error);
                };
                return h(
                  "tr",
                  {},
                  cell(bind(h("input", { value: p.name, placeholder: "product_id", dataset: { key: `${ppath}.name` } }), p, "name"), "name", "Name"),
                  cell(bind(select(PARAMETER_TYPES.map((t) => [t, t === "array" ? "array of strings" : t]), p.type), p, "type"), "type", "Type"),
                  cell(bind(h("input", { value: p.description, placeholder: "What the value means" }), p, "description"), "description", "Description"),
                  h("td", {}, bind(h("input", { type: "checkbox", checked: p.required, "aria-label": `Parameter ${j + 1} is required` }), p, "required")),
                  h("td", {}, h("button", { type: "button", class: "button small ghost", "aria-label": `Remove parameter ${j + 1} of tool ${i + 1}`, onclick: () => (params.splice(j, 1), render()) }, "×")),
                );
              }),
            ),
          ),
          h("button", { type: "button", class: "button small", "data-add-parameter": String(i), onclick: () => addParameter(i) }, "Add a parameter"),
        );
      }),
    );
    showErrors([...errors.entries()]);
    refreshJson();
    if (focusedId) list.querySelector(`[data-key="${focusedId}"]`)?.focus();
  }

  function refreshJson() {
    json.textContent = JSON.stringify({ tools: wireTools(tools) }, null, 2);
  }

  // The button is rebuilt by render(): focus moves to the new parameter's name (Enter on the
  // button used to leave focus on <body>).
  function addParameter(i) {
    const params = (tools[i].parameters ||= []);
    if (params.length >= 20) {
      wrap.querySelector(":scope > .field-error").textContent = `Tool ${i + 1}: may have at most 20 parameters`;
      return;
    }
    params.push({ name: "", type: "string", description: "", required: true });
    render();
    list.querySelector(`[data-key="tools[${i}].parameters[${params.length - 1}].name"]`)?.focus();
  }

  function add() {
    if (tools.length >= 20) {
      wrap.querySelector(":scope > .field-error").textContent = "tools: may have at most 20 items";
      return;
    }
    tools.push({ type: "client_event", name: "", description: "", parameters: [] });
    render();
    list.lastElementChild?.querySelector("input")?.focus();
  }

  // Messages in the form's words ("Tool 1 name: …"), and the field itself marked invalid.
  function showErrors(found) {
    errors.clear();
    for (const line of wrap.querySelectorAll(".field-error")) line.textContent = "";
    for (const control of wrap.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    for (const [path, message] of found) {
      errors.set(path, message);
      const line = wrap.querySelector(`.field-error[data-path="${CSS.escape(path)}"]`) || wrap.querySelector(":scope > .field-error");
      const text = humanMessage(message);
      line.textContent = line.textContent ? `${line.textContent} ${text}` : text;
      const control = line.parentElement.querySelector("input, textarea, select");
      if (control && line.dataset.path) control.setAttribute("aria-invalid", "true");
    }
  }

  render();
  return { wrap, value: () => wireTools(tools), showErrors };
}
