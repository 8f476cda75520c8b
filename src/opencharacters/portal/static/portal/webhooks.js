/** Webhook endpoints of the signed-in organization: register, send a test event, enable or
 * disable, delete, and read each endpoint's delivery log (attempts, status, response time). */

import { api } from "./api.js";
import { h, field, pageHead, statusBadge, confirmDialog, showApiError, announce, formatDate } from "./ui.js";

export async function page(main) {
  const types = (await api("GET", "/v1/webhooks/event_types")).data;
  const body = h("tbody");
  const table = h(
    "table",
    { class: "data", id: "webhook-endpoints" },
    h("caption", { class: "visually-hidden" }, "Webhook endpoints"),
    h("thead", {}, h("tr", {}, ["URL", "Events", "Status", h("span", { class: "visually-hidden" }, "Actions")].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const url = field({ label: "URL", name: "url", type: "url", max: 2000, required: true, placeholder: "https://example.com/webhooks/opencharacters", hint: "Your endpoint; it must answer 2xx within 10 s." });
  const description = field({ label: "Description", name: "description", max: 200, placeholder: "production backend" });
  const boxes = types
    .filter((t) => t.type !== "webhook.test")
    .map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "eventTypes", value: t.type }), " ", h("code", {}, t.type), h("span", { class: "muted" }, ` ${t.description}`)));
  const events = h(
    "fieldset",
    { class: "field", "data-field": "eventTypes" },
    h("legend", {}, "Events"),
    h("p", { class: "hint" }, "None ticked: every event."),
    ...boxes,
    h("p", { class: "field-error", "aria-live": "polite" }),
  );
  const summary = h("p", { class: "error-box", role: "alert", hidden: true });
  const created = h("div", { class: "new-key", id: "new-webhook", hidden: true, role: "status" });
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "new-webhook-title" },
    h("h2", { id: "new-webhook-title" }, "Add an endpoint"),
    url.wrap,
    description.wrap,
    events,
    summary,
    h("button", { type: "submit", class: "button primary" }, "Add endpoint"),
  );
  const log = h("section", { class: "panel", id: "webhook-log", hidden: true, "aria-live": "polite" });
  main.append(
    pageHead("Webhooks"),
    h("p", { class: "hint" }, "OpenCharacters posts signed events (Standard Webhooks) to these URLs: sessions, conversations and recordings, avatars, voices and videos. Verify each with the endpoint's secret."),
    created,
    h("div", { class: "table-wrap" }, table),
    log,
    form,
  );

  async function load() {
    const endpoints = (await api("GET", "/v1/webhooks")).data;
    body.replaceChildren(
      ...endpoints.map((e) =>
        h(
          "tr",
          { "data-webhook-id": e.id },
          h("td", {}, h("code", {}, e.url), e.description ? h("span", { class: "tag" }, e.description) : null),
          h("td", {}, e.eventTypes.length ? e.eventTypes.join(", ") : h("span", { class: "muted" }, "all events")),
          h("td", {}, statusBadge(e.enabled ? "ACTIVE" : "DISABLED")),
          h(
            "td",
            { class: "row-actions" },
            h("button", { type: "button", class: "button small", onclick: () => sendTest(e) }, "Send test event"),
            h("button", { type: "button", class: "button small ghost", onclick: () => showLog(e) }, "Delivery log"),
            h("button", { type: "button", class: "button small ghost", onclick: () => toggle(e) }, e.enabled ? "Disable" : "Enable"),
            h("button", { type: "button", class: "button small ghost", "aria-label": `Delete ${e.url}`, onclick: () => remove(e) }, "Delete"),
          ),
        ),
      ),
    );
    if (!endpoints.length) body.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No endpoints yet.")));
  }

  async function sendTest(endpoint) {
    const sent = await api("POST", `/v1/webhooks/${endpoint.id}/test`);
    announce(`Test event ${sent.eventId} queued`);
    // Follow it in the log until it is delivered or given up (or the page moves on).
    for (let tries = 0; tries < 30; tries += 1) {
      const deliveries = await showLog(endpoint);
      const mine = deliveries.find((d) => d.eventId === sent.eventId);
      if (!mine || mine.status !== "PENDING" || log.hidden || log.dataset.endpoint !== endpoint.id || !main.isConnected) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function showLog(endpoint) {
    const deliveries = (await api("GET", `/v1/webhooks/${endpoint.id}/deliveries?limit=50`)).data;
    log.dataset.endpoint = endpoint.id;
    const rows = deliveries.map((d) => {
      const last = d.log[d.log.length - 1];
      return h(
        "tr",
        { "data-delivery-id": d.id },
        h("td", {}, formatDate(d.createdAt)),
        h("td", {}, h("code", {}, d.eventType)),
        h("td", {}, statusBadge(d.status)),
        h("td", {}, String(d.attempts)),
        h("td", {}, last ? (last.statusCode ? `HTTP ${last.statusCode}` : last.error || "") : "—"),
        h("td", {}, last && last.responseMs !== null ? `${last.responseMs} ms` : "—"),
        h("td", {}, d.nextAttemptAt ? formatDate(d.nextAttemptAt) : "—"),
      );
    });
    log.replaceChildren(
      h("h2", {}, "Delivery log: ", h("code", {}, endpoint.url)),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data", id: "webhook-deliveries" },
          h("thead", {}, h("tr", {}, ["Event time", "Event", "Status", "Attempts", "Last answer", "Response time", "Next attempt"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "Nothing sent yet."))])),
        ),
      ),
      h("button", { type: "button", class: "button small ghost", onclick: () => showLog(endpoint) }, "Refresh"),
    );
    log.hidden = false;
    return deliveries;
  }

  async function toggle(endpoint) {
    await api("PATCH", `/v1/webhooks/${endpoint.id}`, { enabled: !endpoint.enabled });
    announce(endpoint.enabled ? "Endpoint disabled" : "Endpoint enabled");
    await load();
  }

  async function remove(endpoint) {
    if (!(await confirmDialog(`Delete the endpoint ${endpoint.url}? Events not yet delivered to it are dropped.`, { title: "Delete this endpoint?" }))) return;
    await api("DELETE", `/v1/webhooks/${endpoint.id}`);
    if (log.dataset.endpoint === endpoint.id) log.hidden = true;
    announce("Endpoint deleted");
    await load();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    summary.hidden = true;
    const chosen = [...form.querySelectorAll("input[name=eventTypes]:checked")].map((box) => box.value);
    const payload = { url: url.input.value.trim(), eventTypes: chosen };
    const text = description.input.value.trim();
    if (text) payload.description = text;
    try {
      const endpoint = await api("POST", "/v1/webhooks", payload);
      const secret = h("input", { type: "text", readonly: true, value: endpoint.secret, id: "new-webhook-secret", "aria-label": "Signing secret", spellcheck: "false" });
      created.replaceChildren(
        h("h2", {}, "Endpoint added"),
        h("p", {}, "Its signing secret (also readable later with GET /v1/webhooks/{id}/secret):"),
        h("div", { class: "inline" }, secret),
      );
      created.hidden = false;
      form.reset();
      url.update();
      description.update();
      await load();
    } catch (error) {
      showApiError(form, summary, error);
    }
  });
  await load();
  return null;
}
