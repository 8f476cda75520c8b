/** Knowledge documents: create (paste, or a .txt/.md file), edit, delete, and who uses each. */

import { api, listAll } from "./api.js";
import { h, field, pageHead, confirmDialog, showApiError, announce, formatDate } from "./ui.js";

export async function page(main) {
  const body = h("tbody");
  const table = h(
    "table",
    { class: "data", id: "documents" },
    h("caption", { class: "visually-hidden" }, "Documents"),
    h("thead", {}, h("tr", {}, ["Name", "Used by", "Updated", h("span", { class: "visually-hidden" }, "Actions")].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const empty = h("p", { class: "muted" }, "No documents yet.");
  const name = field({ label: "Name", name: "name", max: 255, required: true });
  const content = field({ label: "Content (text or Markdown)", name: "content", max: 200000, required: true, multiline: true, rows: 10 });
  const file = h("input", { type: "file", id: "document-file", accept: ".txt,.md,.markdown,text/plain,text/markdown" });
  const summary = h("p", { class: "error-box", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary" }, "Add document");
  const cancel = h("button", { type: "button", class: "button", hidden: true }, "Cancel editing");
  const title = h("h2", { id: "document-form-title" }, "Add a document");
  let editing = null;
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "document-form-title" },
    title,
    h("div", { class: "field" }, h("label", { for: "document-file" }, "Load a .txt or .md file"), file),
    name.wrap,
    content.wrap,
    summary,
    h("div", { class: "form-actions" }, submit, cancel),
  );
  main.append(pageHead("Documents"), h("p", { class: "hint" }, "Knowledge your characters draw on during calls: attach documents to a character in its editor (up to 50,000 tokens per character)."), h("div", { class: "table-wrap" }, table), empty, form);

  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    content.input.value = await chosen.text();
    content.update();
    if (!name.input.value) {
      name.input.value = chosen.name.replace(/\.(txt|md|markdown)$/i, "");
      name.update();
    }
  });

  function resetForm() {
    editing = null;
    form.reset();
    name.update();
    content.update();
    title.textContent = "Add a document";
    submit.textContent = "Add document";
    cancel.hidden = true;
  }
  cancel.addEventListener("click", resetForm);

  async function edit(id) {
    const doc = await api("GET", `/v1/documents/${id}`);
    editing = doc;
    name.input.value = doc.name;
    content.input.value = doc.content;
    name.update();
    content.update();
    title.textContent = `Edit ${doc.name}`;
    submit.textContent = "Save document";
    cancel.hidden = false;
    name.input.focus();
  }

  async function remove(doc) {
    const users = doc.usedBy.length ? ` It is detached from ${doc.usedBy.map((a) => a.name).join(", ")}.` : "";
    if (!(await confirmDialog(`Delete ${doc.name}?${users}`, { title: "Delete this document?" }))) return;
    await api("DELETE", `/v1/documents/${doc.id}`);
    announce(`${doc.name} deleted`);
    if (editing && editing.id === doc.id) resetForm();
    await load();
  }

  async function load() {
    const docs = await listAll("/v1/documents?limit=100");
    body.replaceChildren(
      ...docs.map((d) =>
        h(
          "tr",
          { "data-document-id": d.id },
          h("td", {}, d.name),
          h("td", {}, d.usedBy.length ? d.usedBy.map((a, i) => [i ? ", " : "", h("a", { href: `#/characters/${a.id}` }, a.name)]) : h("span", { class: "muted" }, "no character")),
          h("td", {}, formatDate(d.updatedAt)),
          h("td", { class: "row-actions" }, h("button", { type: "button", class: "button small", "aria-label": `Edit ${d.name}`, onclick: () => edit(d.id) }, "Edit"), h("button", { type: "button", class: "button small ghost", "aria-label": `Delete ${d.name}`, onclick: () => remove(d) }, "Delete")),
        ),
      ),
    );
    table.hidden = !docs.length;
    empty.hidden = Boolean(docs.length);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    summary.hidden = true;
    if (!name.input.value) return name.setError("name is required");
    if (!content.input.value) return content.setError("content is required");
    submit.disabled = true;
    try {
      const payload = { name: name.input.value, content: content.input.value };
      if (editing) await api("PATCH", `/v1/documents/${editing.id}`, payload);
      else await api("POST", "/v1/documents", payload);
      announce(`${payload.name} saved`);
      resetForm();
      await load();
    } catch (error) {
      showApiError(form, summary, error);
    } finally {
      submit.disabled = false;
    }
  });
  await load();
  return null;
}
