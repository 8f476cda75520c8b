/**
 * Preview & test: a live call with a character, through the public flow any client uses —
 * POST /v1/realtime_sessions → poll until READY → consume → WHIP, or the LiveKit room consume
 * names (OPENCHARACTERS_TRANSPORT=livekit) — with the browser client served at
 * /sdk/opencharacters.js.
 */

import { connect } from "/sdk/opencharacters.js";
import { api, listAll } from "./api.js";
import { h, put, field, pageHead, announce, clock, statusBadge, formatDate, formatDuration, confirmDialog } from "./ui.js";
import { avatarImage } from "./characters.js";
import { loadTools } from "./tools.js";

const STATES = { listening: "Listening", thinking: "Thinking", speaking: "Speaking" };

/** "queued behind 2 sessions" for a waiting session (OpenCharacters' sessionsAhead extension). */
export function queueText(session) {
  const ahead = session.sessionsAhead;
  if (ahead === undefined || ahead === null) return "waiting for a free call slot";
  return `queued behind ${ahead} session${ahead === 1 ? "" : "s"}`;
}

/**
 * The organization's sessions that wait for, hold or use a call slot (GET /v1/realtime_sessions,
 * an OpenCharacters extension), each with an End button: a session created and never joined
 * holds a slot until its credentials expire. Refreshed every few seconds while shown.
 */
export function activeSessions({ current = () => null } = {}) {
  const body = h("tbody");
  const empty = h("p", { class: "muted", id: "no-active-sessions" }, "No session is waiting for, holding or using a call slot.");
  const table = h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "data", id: "active-sessions" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Character"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))), body),
  );
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const panel = h(
    "section",
    { class: "panel", "aria-labelledby": "active-sessions-title" },
    h("h2", { id: "active-sessions-title" }, "Active sessions"),
    h("p", { class: "hint" }, "Sessions of your organization that wait for, hold or use one of the server's call slots. End the ones nobody will join."),
    table,
    empty,
    error,
  );
  let timer = null;
  let stopped = false;
  async function refresh() {
    clearTimeout(timer);
    try {
      const { data } = await api("GET", "/v1/realtime_sessions");
      error.hidden = true;
      body.replaceChildren(
        ...data.map((s) => {
          const mine = s.id === current();
          const name = s.avatar?.name || s.avatar?.id || "—";
          const end = h("button", { type: "button", class: "button small danger", "aria-label": `End the session with ${name} created ${formatDate(s.createdAt)}` }, "End");
          end.addEventListener("click", async () => {
            if (mine && !(await confirmDialog("This is the call on this page. End it?", { title: "End this call?", confirm: "End" }))) return;
            end.disabled = true;
            try {
              await api("DELETE", `/v1/realtime_sessions/${s.id}`);
              announce(`Ended the session with ${name}`);
            } catch (failure) {
              error.textContent = failure.message;
              error.hidden = false;
            }
            refresh();
          });
          return h(
            "tr",
            { "data-session-id": s.id, "data-status": s.status },
            h("td", {}, name, mine ? h("span", { class: "muted" }, " (this page)") : null),
            h("td", {}, statusBadge(s.status), s.status === "NOT_READY" ? h("span", { class: "muted" }, ` ${queueText(s)}`) : null),
            h("td", {}, formatDate(s.createdAt)),
            h("td", { class: "actions" }, end),
          );
        }),
      );
      table.hidden = data.length === 0;
      empty.hidden = data.length > 0;
    } catch (failure) {
      if (failure.name === "AbortError") return;
      error.textContent = failure.message;
      error.hidden = false;
    }
    if (!stopped) timer = setTimeout(refresh, 3000);
  }
  refresh();
  return {
    panel,
    refresh,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function choose(main) {
  const avatars = (await listAll("/v1/avatars?limit=100")).filter((a) => a.status === "READY");
  const sessions = activeSessions();
  put(
    main,
    pageHead("Preview & test"),
    h("p", {}, "Pick a character to call. Calls use your microphone; the browser asks for permission."),
    avatars.length
      ? h(
          "ul",
          { class: "cards pick" },
          avatars.map((a) =>
            h("li", { class: "card" }, h("a", { class: "pick-link", href: `#/test/${a.id}` }, h("img", { src: avatarImage(a), alt: "" }), h("span", {}, `Call ${a.name}`))),
          ),
        )
      : h("p", { class: "muted" }, "No character is ready yet. ", h("a", { href: "#/characters/new" }, "Create one"), "."),
    sessions.panel,
  );
  return () => sessions.stop();
}

/** A preset character (#/test/preset:<presetId>) in the shape the page uses for an avatar. */
async function presetAvatar(presetId) {
  const preset = await api("GET", `/v1/avatar_presets/${encodeURIComponent(presetId)}`);
  return { ...preset, id: `preset:${preset.presetId}`, status: "READY", ref: { type: "runway-preset", presetId: preset.presetId } };
}

export async function page(main, id) {
  if (!id) return choose(main);
  const avatar = id.startsWith("preset:") ? await presetAvatar(id.slice(7)) : await api("GET", `/v1/avatars/${encodeURIComponent(id)}`);
  const tools = loadTools(avatar.id);
  let call = null;
  let sessionId = null;
  let started = 0;
  let pending = false; // a session created and not yet joined (cancel it when leaving)
  let abort = new AbortController();

  const video = h("video", { id: "avatar-video", playsinline: true, autoplay: true, poster: avatarImage(avatar), "aria-label": `${avatar.name}'s video` });
  const stateBadge = h("span", { class: "state", id: "avatar-state", "data-state": "idle", "aria-live": "polite" }, "Not connected");
  const micState = h("span", { class: "mic-state", id: "mic-state", "data-microphone": "off", hidden: true }, "Microphone off");
  const sessions = activeSessions({ current: () => sessionId });
  const status = h("p", { class: "call-status", id: "call-status", role: "status" }, "Ready when you are.");
  const error = h("p", { class: "error-box", id: "call-error", role: "alert", hidden: true });
  const transcript = h("ol", { class: "transcript", id: "transcript", "aria-live": "polite", "aria-label": "Transcript" });
  const events = h("ol", { class: "events", id: "tool-events", "aria-live": "polite", "aria-label": "Tool events" });
  const startButton = h("button", { type: "button", class: "button primary", id: "start-call" }, "Start call");
  const micButton = h("button", { type: "button", class: "button", id: "mic", "data-microphone": "off", disabled: true }, "Turn microphone on");
  const soundButton = h("button", { type: "button", class: "button", id: "sound-on", hidden: true }, "Sound on");
  const endButton = h("button", { type: "button", class: "button danger", id: "hang-up", disabled: true }, "Hang up");
  const after = h("p", { class: "after-call", id: "after-call", hidden: true });

  const personality = field({ label: "Personality for this call", name: "personality", max: 10000, multiline: true, rows: 5, placeholder: avatar.personality, hint: "Overrides the character's personality for this call only; empty uses the character's." });
  const startScript = field({ label: "Start script for this call", name: "startScript", max: 2000, multiline: true, rows: 2, placeholder: avatar.startScript || "(none)", hint: "Overrides the opening line for this call only." });
  const maxDuration = field({ label: "Maximum duration (seconds)", name: "maxDuration", type: "number", value: "300", attrs: { min: 10, max: 1800, step: 1 }, hint: "10 to 1800; the character says goodbye when it is reached." });
  const micOff = h("input", { type: "checkbox", id: "mic-off", name: "micOff" });
  const sendTools = h("input", { type: "checkbox", id: "send-tools", name: "sendTools", checked: tools.length > 0, disabled: tools.length === 0 });
  const settings = h(
    "form",
    { class: "panel call-settings", novalidate: true, "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Call settings"),
    personality.wrap,
    startScript.wrap,
    maxDuration.wrap,
    h("div", { class: "check" }, micOff, h("label", { for: "mic-off" }, "Join with the microphone off (turn it on during the call)")),
    h("div", { class: "check" }, sendTools, h("label", { for: "send-tools" }, tools.length ? `Declare this character's ${tools.length} tool${tools.length > 1 ? "s" : ""} (${tools.map((t) => t.name).join(", ")})` : "No tools declared for this character (add them in its editor)")),
  );
  settings.addEventListener("submit", (event) => event.preventDefault());

  put(
    main,
    pageHead(`Preview & test: ${avatar.name}`, avatar.ref ? h("span", { class: "badge" }, "Preset: not editable") : h("a", { class: "button ghost", href: `#/characters/${avatar.id}` }, "Edit character")),
    avatar.status !== "READY" ? h("p", { class: "error-box", role: "alert" }, `${avatar.name} is ${avatar.status}: only READY characters take calls.`) : null,
    h(
      "div",
      { class: "call-layout" },
      h(
        "section",
        { class: "stage-col", "aria-label": "Call" },
        h("div", { class: "stage" }, video, stateBadge, micState),
        h("div", { class: "call-controls" }, startButton, micButton, soundButton, endButton),
        status,
        error,
        after,
      ),
      h(
        "section",
        { class: "side-col" },
        h("div", { class: "panel" }, h("h2", {}, "Transcript"), transcript, h("p", { class: "muted empty-note" }, "What you and the character say appears here as it is heard.")),
        h("div", { class: "panel" }, h("h2", {}, "Tool events"), events, h("p", { class: "muted empty-note" }, "Client events the character fires show up here.")),
      ),
    ),
    settings,
    sessions.panel,
  );
  if (avatar.status !== "READY") startButton.disabled = true;

  const setStatus = (text) => {
    status.textContent = text;
  };
  const setState = (state) => {
    stateBadge.dataset.state = state || "idle";
    stateBadge.textContent = STATES[state] || (state ? state : "Not connected");
  };
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };

  function renderTranscript(entries) {
    transcript.replaceChildren(
      ...entries.map((entry) =>
        h(
          "li",
          { "data-role": entry.role, "data-final": String(entry.final) },
          h("span", { class: "who" }, entry.role === "user" ? "Caller" : avatar.name),
          h("span", { class: "text" }, entry.text),
          entry.interrupted ? h("span", { class: "tag" }, "interrupted") : null,
        ),
      ),
    );
    transcript.scrollTop = transcript.scrollHeight;
  }

  function addEvent(event) {
    events.append(
      h("li", { "data-tool": event.tool }, h("span", { class: "time" }, clock((performance.now() - started) / 1000)), h("code", {}, event.tool), h("pre", { class: "code" }, JSON.stringify(event.args, null, 2))),
    );
    announce(`Tool event: ${event.tool}`);
  }

  function readyControls(active) {
    startButton.disabled = active || avatar.status !== "READY";
    endButton.disabled = !active;
    micButton.disabled = !active;
    for (const input of settings.querySelectorAll("input, textarea")) input.disabled = active || (input === sendTools && !tools.length);
  }

  function sessionBody() {
    const body = { model: "gwm1_avatars", avatar: avatar.ref || { type: "custom", avatarId: avatar.id } };
    const p = personality.input.value;
    const s = startScript.input.value;
    const max = Number(maxDuration.input.value || 300);
    if (p) body.personality = p;
    if (s) body.startScript = s;
    body.maxDuration = max;
    if (sendTools.checked && tools.length) body.tools = tools;
    return body;
  }

  async function waitReady(id, signal) {
    for (;;) {
      const session = await api("GET", `/v1/realtime_sessions/${id}`, undefined, { signal });
      if (session.status === "READY") return session;
      if (["FAILED", "CANCELLED", "COMPLETED"].includes(session.status)) {
        throw new Error(`The session is ${session.status}${session.failure ? `: ${session.failure}` : ""}.`);
      }
      setStatus(session.queued ? `Waiting for a free call slot: ${queueText(session)}. End unused sessions below to free one.` : "Preparing the session…");
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (signal.aborted) throw new DOMException("aborted", "AbortError");
    }
  }

  // The button says what it does; the state shows beside the avatar's ("Microphone live").
  function updateMic() {
    const on = Boolean(call && call.microphone);
    micButton.dataset.microphone = on ? "live" : "off";
    micButton.textContent = on ? "Mute microphone" : "Turn microphone on";
    micState.hidden = !call;
    micState.textContent = on ? "Microphone live" : "Microphone off";
    micState.dataset.microphone = on ? "live" : "off";
  }

  startButton.addEventListener("click", async () => {
    error.hidden = true;
    after.hidden = true;
    const max = Number(maxDuration.input.value || 300);
    if (personality.input.value.length > 10000) return personality.setError(`personality: must be at most 10000 characters (got ${personality.input.value.length})`);
    if (startScript.input.value.length > 2000) return startScript.setError(`startScript: must be at most 2000 characters (got ${startScript.input.value.length})`);
    if (!Number.isInteger(max) || max < 10 || max > 1800) return maxDuration.setError("maxDuration: must be a whole number of seconds from 10 to 1800");
    readyControls(true);
    endButton.disabled = false;
    transcript.replaceChildren();
    events.replaceChildren();
    abort = new AbortController();
    try {
      setStatus("Creating a session…");
      const created = await api("POST", "/v1/realtime_sessions", sessionBody());
      sessionId = created.id;
      pending = true;
      main.dataset.sessionId = sessionId;
      sessions.refresh();
      const ready = await waitReady(sessionId, abort.signal);
      setStatus("Connecting…");
      started = performance.now();
      call = await connect(
        { baseUrl: location.origin, sessionId, sessionKey: ready.sessionKey },
        {
          audio: !micOff.checked,
          videoElement: video,
          onTranscript: renderTranscript,
          onState: setState,
          onClientEvent: addEvent,
          onStatus: (s) => {
            main.dataset.callStatus = s;
          },
          onEnded: (info) => ended(info),
        },
      );
      pending = false;
      window.portalCall = call;
      call.on("audioblocked", () => {
        soundButton.hidden = false;
      });
      main.dataset.callStatus = call.status;
      updateMic();
      setStatus(`In a call with ${avatar.name}. Speak when the badge says Listening.`);
      announce(`Connected to ${avatar.name}`);
    } catch (failure) {
      if (failure.name !== "AbortError") fail(failure.message || String(failure));
      if (pending) {
        pending = false;
        api("DELETE", `/v1/realtime_sessions/${sessionId}`).catch(() => {});
      }
      readyControls(false);
      setStatus("Not connected.");
      if (call) ended(call.endInfo || { reason: "failed" });
    }
  });

  micButton.addEventListener("click", async () => {
    if (!call) return;
    micButton.disabled = true;
    try {
      await call.setMicrophone(call.microphone ? null : true);
    } catch (failure) {
      fail(failure.message);
    } finally {
      micButton.disabled = call.status !== "active";
      updateMic();
    }
  });

  soundButton.addEventListener("click", async () => {
    await call?.resumeAudio();
    soundButton.hidden = true;
  });

  endButton.addEventListener("click", async () => {
    endButton.disabled = true;
    if (call) await call.end();
    else {
      abort.abort();
      readyControls(false);
      setStatus("Cancelled.");
    }
  });

  function ended(info) {
    readyControls(false);
    setState(null);
    soundButton.hidden = true;
    main.dataset.callStatus = "ended";
    // Back to the still image: an ended stream leaves the last (or a black) frame otherwise.
    video.srcObject = null;
    video.load();
    const seconds = started ? Math.round((performance.now() - started) / 1000) : 0;
    setStatus(`Call ended (${info.reason}) after ${formatDuration(seconds)}.`);
    const endedId = sessionId;
    // The server's measure, the one the conversation shows, once it has been written.
    api("GET", `/v1/realtime_sessions/${endedId}`)
      .then((s) => {
        if (s.duration !== undefined && endedId === sessionId) setStatus(`Call ended (${info.reason}) after ${formatDuration(s.duration)}.`);
      })
      .catch(() => {});
    sessions.refresh();
    after.replaceChildren("The transcript and recording are saved: ", h("a", { href: `#/conversations/${sessionId}`, id: "open-conversation" }, "open this conversation"), ".");
    after.hidden = false;
    call = null;
    updateMic();
    announce("Call ended");
  }

  return async () => {
    sessions.stop();
    abort.abort();
    if (call) await call.end();
    else if (pending) {
      pending = false;
      api("DELETE", `/v1/realtime_sessions/${sessionId}`).catch(() => {});
    }
  };
}

export { statusBadge };
