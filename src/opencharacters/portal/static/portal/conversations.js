/** Conversations: filtered list, and one conversation's transcript, recording and deletion. */

import { api, listAll } from "./api.js";
import { h, pageHead, statusBadge, formatDate, formatDuration, clock, confirmDialog, announce } from "./ui.js";

const STATUSES = [["", "Any status"], ["in_progress", "In progress"], ["ended", "Ended"], ["failed", "Failed"]];

function dayStart(date) {
  return `${date}T00:00:00Z`;
}

function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10) + "T00:00:00Z";
}

export async function list(main, query) {
  const avatars = await listAll("/v1/avatars?limit=100");
  const filters = {
    avatar: query.get("avatar") || "",
    from: query.get("from") || "",
    to: query.get("to") || "",
    status: query.get("status") || "",
  };
  const select = (id, label, options, value) =>
    h("div", { class: "field" }, h("label", { for: id }, label), h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  const date = (id, label, value) => h("div", { class: "field" }, h("label", { for: id }, label), h("input", { type: "date", id, name: id, value }));
  const form = h(
    "form",
    { class: "filters panel", "aria-label": "Filters" },
    select("avatar", "Character", [["", "All characters"], ...avatars.map((a) => [a.id, a.name])], filters.avatar),
    date("from", "From (UTC)", filters.from),
    date("to", "To (UTC, inclusive)", filters.to),
    select("status", "Status", STATUSES, filters.status),
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "button primary" }, "Apply"), h("a", { class: "button ghost", href: "#/conversations" }, "Reset")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    location.hash = `#/conversations${params.toString() ? `?${params}` : ""}`;
  });
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "data", id: "conversations" },
    h("caption", { class: "visually-hidden" }, "Conversations, newest first"),
    h("thead", {}, h("tr", {}, ["Conversation", "Character", "Status", "Started", "Duration", "Tools"].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const more = h("button", { type: "button", class: "button", hidden: true }, "Load more");
  const empty = h("p", { class: "muted", hidden: true }, "No conversations match. Start one from ", h("a", { href: "#/test" }, "Preview & test"), ".");
  main.append(pageHead("Conversations"), form, error, h("div", { class: "table-wrap" }, table), empty, more);

  const params = new URLSearchParams({ limit: "50" });
  if (filters.avatar) params.set("avatar", filters.avatar);
  if (filters.from) params.set("startDate", dayStart(filters.from));
  if (filters.to) params.set("endDate", nextDay(filters.to));
  let cursor = null;
  let count = 0;
  async function load() {
    more.disabled = true;
    try {
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/v1/avatar_conversations?${params}`);
      cursor = page.nextCursor;
      const rows = page.data.filter((c) => !filters.status || c.status === filters.status);
      count += rows.length;
      body.append(
        ...rows.map((c) =>
          h(
            "tr",
            { "data-conversation-id": c.id },
            h("td", {}, h("a", { href: `#/conversations/${c.id}` }, c.name || c.id)),
            h("td", {}, c.avatar?.name || "(deleted)"),
            h("td", {}, statusBadge(c.status)),
            h("td", {}, formatDate(c.createdAt)),
            h("td", {}, formatDuration(c.duration)),
            h("td", {}, c.hasTools ? "yes" : "—"),
          ),
        ),
      );
      empty.hidden = count > 0 || Boolean(cursor);
      table.hidden = count === 0;
      more.hidden = !cursor;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  await load();
  return null;
}

function toolBlock(entry) {
  const blocks = [];
  for (const callItem of entry.toolCalls || []) {
    blocks.push(h("div", { class: "tool-call" }, h("span", { class: "tag" }, "tool call"), h("code", {}, callItem.name), h("pre", { class: "code" }, JSON.stringify(callItem.arguments ?? {}, null, 2))));
  }
  for (const result of entry.toolResults || []) {
    const text = result.error ? `error: ${result.error}` : JSON.stringify(result.result, null, 2);
    blocks.push(
      h(
        "div",
        { class: "tool-call" },
        h("span", { class: "tag" }, "tool result"),
        h("code", {}, result.name),
        result.durationMs != null ? h("span", { class: "muted" }, ` ${Math.round(result.durationMs)} ms`) : null,
        h("pre", { class: "code" }, text),
      ),
    );
  }
  return blocks;
}

export async function detail(main, id) {
  let conversation = await api("GET", `/v1/avatar_conversations/${encodeURIComponent(id)}`);
  const content = h("div", { class: "conversation" });
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const deleteButton = h("button", { type: "button", class: "button danger", id: "delete-conversation" }, "Delete");
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/conversations" }, "← All conversations")),
    pageHead(conversation.name || "Conversation", deleteButton),
    error,
    content,
  );
  let timer = null;

  function render() {
    const c = conversation;
    const start = Date.parse(c.startedAt || c.createdAt);
    const recording = c.recordingUrl
      ? h(
          "div",
          { class: "recording" },
          h("video", { controls: true, preload: "metadata", src: c.recordingUrl, id: "recording", "aria-label": "Recording of the conversation" }),
          h("a", { class: "button small", href: c.recordingUrl, download: `conversation-${c.id}.mp4`, id: "download-recording" }, "Download recording (MP4)"),
          h("p", { class: "hint" }, "The link is signed and expires; reload this page for a fresh one."),
        )
      : h("p", { class: "muted", id: "no-recording" }, c.status === "in_progress" ? "The recording appears when the call ends." : "No recording for this conversation (recording off, or still being written).");
    content.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Character"), h("dd", {}, c.avatar?.name ? h("a", { href: `#/characters/${c.avatar.id}` }, c.avatar.name) : "(deleted)"),
        h("dt", {}, "Status"), h("dd", {}, statusBadge(c.status), c.failure ? h("span", { class: "failure" }, ` ${c.failure} (${c.failureCode})`) : null),
        h("dt", {}, "Created"), h("dd", {}, formatDate(c.createdAt)),
        h("dt", {}, "Started"), h("dd", {}, formatDate(c.startedAt)),
        h("dt", {}, "Ended"), h("dd", {}, formatDate(c.endedAt)),
        h("dt", {}, "Duration"), h("dd", {}, `${formatDuration(c.duration)} of ${formatDuration(c.maxDuration)} max`),
        h("dt", {}, "Tools"), h("dd", {}, c.tools?.length ? c.tools.map((t) => `${t.name} (${t.type})`).join(", ") : "none"),
      ),
      h("section", { class: "panel", "aria-labelledby": "rec-title" }, h("h2", { id: "rec-title" }, "Recording"), recording),
      h(
        "section",
        { class: "panel", "aria-labelledby": "transcript-title" },
        h("h2", { id: "transcript-title" }, "Transcript"),
        c.transcript.length
          ? h(
              "ol",
              { class: "transcript full", id: "conversation-transcript" },
              c.transcript.map((entry) =>
                h(
                  "li",
                  { "data-role": entry.role },
                  h("span", { class: "who" }, entry.role === "user" ? "Caller" : c.avatar?.name || "Character"),
                  h("time", { datetime: entry.timestamp, title: formatDate(entry.timestamp) }, clock((Date.parse(entry.timestamp) - start) / 1000)),
                  entry.content ? h("span", { class: "text" }, entry.content) : null,
                  entry.interrupted ? h("span", { class: "tag" }, "interrupted") : null,
                  toolBlock(entry),
                ),
              ),
            )
          : h("p", { class: "muted" }, "Nothing was said."),
      ),
    );
  }
  render();

  async function refresh() {
    const recent = conversation.endedAt && Date.now() - Date.parse(conversation.endedAt) < 60000;
    if (conversation.status !== "in_progress" && !(recent && !conversation.recordingUrl)) return;
    timer = setTimeout(async () => {
      try {
        conversation = await api("GET", `/v1/avatar_conversations/${encodeURIComponent(id)}`);
        render();
      } catch {
        return;
      }
      refresh();
    }, 1500);
  }
  refresh();

  deleteButton.addEventListener("click", async () => {
    const ok = await confirmDialog("Delete this conversation's transcript and recording? This cannot be undone.", { title: "Delete this conversation?" });
    if (!ok) return;
    try {
      await api("DELETE", `/v1/avatar_conversations/${conversation.id}`);
      announce("Conversation deleted");
      location.hash = "#/conversations";
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
  return () => clearTimeout(timer);
}
