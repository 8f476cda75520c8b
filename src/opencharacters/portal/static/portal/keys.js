/** API keys of the signed-in organization: list, create (the secret shown once), revoke. */

import { api } from "./api.js";
import { h, field, pageHead, statusBadge, confirmDialog, showApiError, announce, formatDate } from "./ui.js";
import { signOut } from "./app.js";

export async function page(main) {
  const body = h("tbody");
  const table = h(
    "table",
    { class: "data", id: "api-keys" },
    h("caption", { class: "visually-hidden" }, "API keys"),
    h("thead", {}, h("tr", {}, ["Name", "Key", "Created", "Status", h("span", { class: "visually-hidden" }, "Actions")].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const name = field({ label: "Name", name: "name", max: 100, placeholder: "production backend", hint: "A label to recognise the key by (optional)." });
  const summary = h("p", { class: "error-box", role: "alert", hidden: true });
  const created = h("div", { class: "new-key", id: "new-key", hidden: true, role: "status" });
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title" }, "Create a key"),
    name.wrap,
    summary,
    h("button", { type: "submit", class: "button primary" }, "Create key"),
  );
  main.append(
    pageHead("API keys"),
    h("p", { class: "hint" }, "Keys of your organization. Use them on your servers (RUNWAYML_API_SECRET); never put one in a web page. Only a hash of each key is stored, so a key is shown once, when it is created."),
    created,
    h("div", { class: "table-wrap" }, table),
    form,
  );

  async function load() {
    const keys = (await api("GET", "/v1/organization/api_keys")).data;
    body.replaceChildren(
      ...keys.map((k) =>
        h(
          "tr",
          { "data-key-id": k.id },
          h("td", {}, k.name || h("span", { class: "muted" }, "unnamed"), k.current ? h("span", { class: "tag" }, "this session") : null),
          h("td", {}, h("code", {}, `${k.prefix}…`)),
          h("td", {}, formatDate(k.createdAt)),
          h("td", {}, statusBadge(k.status), k.revokedAt ? h("span", { class: "muted" }, ` ${formatDate(k.revokedAt)}`) : null),
          h("td", { class: "row-actions" }, k.status === "ACTIVE" ? h("button", { type: "button", class: "button small ghost", "aria-label": `Revoke ${k.name || k.prefix}`, onclick: () => revoke(k) }, "Revoke") : null),
        ),
      ),
    );
  }

  async function revoke(key) {
    const warning = key.current ? " This is the key you signed in with: you will be signed out." : " Programs using it stop working at once.";
    if (!(await confirmDialog(`Revoke ${key.name || `${key.prefix}…`}?${warning}`, { title: "Revoke this key?", confirm: "Revoke" }))) return;
    try {
      await api("DELETE", `/v1/organization/api_keys/${key.id}`);
    } catch (error) {
      summary.textContent = error.message;
      summary.hidden = false;
      return;
    }
    if (key.current) {
      signOut("You revoked the key you signed in with.");
      return;
    }
    announce("Key revoked");
    await load();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    summary.hidden = true;
    try {
      const value = name.input.value.trim();
      const key = await api("POST", "/v1/organization/api_keys", value ? { name: value } : {});
      const secret = h("input", { type: "text", readonly: true, value: key.key, id: "new-key-value", "aria-label": "The new key", spellcheck: "false" });
      const copy = h("button", { type: "button", class: "button small" }, "Copy");
      copy.addEventListener("click", async () => {
        secret.select();
        try {
          await navigator.clipboard.writeText(key.key);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Press Ctrl+C";
        }
      });
      created.replaceChildren(h("h2", {}, `New key${key.name ? `: ${key.name}` : ""}`), h("p", {}, "Copy it now: it will not be shown again."), h("div", { class: "inline" }, secret, copy));
      created.hidden = false;
      form.reset();
      name.update();
      await load();
      secret.focus();
      secret.select();
    } catch (error) {
      showApiError(form, summary, error);
    }
  });
  await load();
  return null;
}
