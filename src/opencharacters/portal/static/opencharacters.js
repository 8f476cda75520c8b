/**
 * OpenCharacters browser client: one live call with an avatar, from a web page.
 *
 * A dependency-free ES module. The OpenCharacters server serves it at `/sdk/opencharacters.js`
 * (CORS `*`), so a page anywhere can import it:
 *
 *   import { connect } from "https://characters.example.com/sdk/opencharacters.js";
 *   const call = await connect({ sessionId, sessionKey }, { onTranscript, onState });
 *   document.body.append(call.videoElement);
 *   ...
 *   await call.end();
 *
 * The flow is Runway's (consume with the session key, then connect). consume says how the media
 * travels: over WHIP (RFC 9725; an http(s) URL), where the complete SDP offer is POSTed with the
 * token and the answer comes back with a Location that is DELETEd to hang up; or in a LiveKit
 * room (a ws(s) URL, OPENCHARACTERS_TRANSPORT=livekit), joined with LiveKit's own browser client,
 * which is imported only then (from the server's /sdk/livekit-client.js, or the `livekit`
 * option). The API and events are the same either way. See docs/js-client.md.
 */

export const VERSION = "0.1.0";

const SDK_PATH = "/sdk/opencharacters.js";
const LIVEKIT_CLIENT_PATH = "/sdk/livekit-client.js";
/** The avatar is the room's participant whose identity starts with this (Runway's convention). */
const AVATAR_IDENTITY_PREFIX = "worker:";
/** END_CALL is given this long to leave before the room is left (Runway's SDK does the same). */
const END_CALL_FLUSH_MS = 200;
const ICE_GATHERING_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 20000;
const HANG_UP_TIMEOUT_MS = 10000;
const DISCONNECTED_GRACE_MS = 10000;

/** Errors from `consume`, `connect` and the microphone. `code` follows Runway's `AvatarError`. */
export class OpenCharactersError extends Error {
  /**
   * @param {"CONSUME_FAILED"|"CONNECTION_FAILED"|"MEDIA_PERMISSION_DENIED"|"MEDIA_DEVICE_ERROR"|"ENDED"} code
   * @param {string} message
   * @param {{status?: number, body?: unknown, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "OpenCharactersError";
    this.code = code;
    this.status = details.status;
    this.body = details.body;
  }
}

/** The base URL of the server this module was loaded from, when it was loaded from one. */
function defaultBaseUrl() {
  try {
    const here = new URL(import.meta.url);
    if (here.pathname.endsWith(SDK_PATH)) {
      return here.origin + here.pathname.slice(0, -SDK_PATH.length);
    }
  } catch {
    // import.meta.url is always a URL in browsers; bundlers may rewrite it.
  }
  return null;
}

/** An error carrying the server's `{"error": "..."}` message (or its text) and status. */
async function responseError(response, what, code) {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // the body is lost; the status still says something
  }
  let body = text;
  let detail = text.trim().slice(0, 300) || response.statusText || "no details";
  try {
    body = JSON.parse(text);
    if (body && typeof body.error === "string") detail = body.error;
  } catch {
    // not JSON: keep the text
  }
  return new OpenCharactersError(code, `${what} (${response.status}): ${detail}`, {
    status: response.status,
    body,
  });
}

/**
 * Trades a READY session's `sessionKey` for its media credentials, exactly as Runway's SDK does:
 * `POST {baseUrl}/v1/realtime_sessions/{sessionId}/consume` with `Authorization: Bearer
 * {sessionKey}`, no body. Works once per session.
 *
 * @param {{baseUrl?: string, sessionId: string, sessionKey: string}} params
 * @returns {Promise<{sessionId: string, url: string, token: string, roomName: string}>}
 */
export async function consume({ baseUrl, sessionId, sessionKey }) {
  if (!sessionId || !sessionKey) {
    throw new TypeError("consume needs sessionId and sessionKey");
  }
  const server = baseUrl || defaultBaseUrl();
  if (!server) {
    throw new TypeError("consume needs baseUrl (this copy of the client was not loaded from /sdk/)");
  }
  const base = String(server).replace(/\/+$/, "");
  let response;
  try {
    response = await fetch(
      `${base}/v1/realtime_sessions/${encodeURIComponent(sessionId)}/consume`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionKey}` },
      },
    );
  } catch (cause) {
    throw new OpenCharactersError("CONSUME_FAILED", `Failed to consume session: ${cause}`, {
      cause,
    });
  }
  if (!response.ok) {
    throw await responseError(response, "Failed to consume session", "CONSUME_FAILED");
  }
  const body = await response.json();
  if (!body || typeof body.url !== "string" || typeof body.token !== "string") {
    throw new OpenCharactersError("CONSUME_FAILED", "Failed to consume session: no url/token", {
      status: response.status,
      body,
    });
  }
  return { sessionId, url: body.url, token: body.token, roomName: body.roomName ?? sessionId };
}

/**
 * Starts a call and resolves once the media is connected.
 *
 * @param {{baseUrl?: string, sessionId: string, sessionKey: string}
 *   | {url: string, token: string, sessionId?: string, roomName?: string}
 *   | {serverUrl: string, token: string, sessionId?: string, roomName?: string}} credentials
 *   Either a READY session's id and key (this client calls consume), or what consume returned
 *   (`url`; `serverUrl` as Runway's SessionCredentials name it).
 * @param {CallOptions} [options]
 * @returns {Promise<Call>}
 *
 * @typedef {object} CallOptions
 * @property {boolean|MediaStream|MediaStreamTrack|null} [audio=true] The caller's microphone:
 *   `true` asks for it (getUserMedia, before consuming, so a refusal does not spend the
 *   one-time credentials); a stream or track is used as given (and not stopped at the end);
 *   `false` starts without one (see `call.setMicrophone`).
 * @property {HTMLVideoElement} [videoElement] Where the avatar plays; one is made if not given.
 * @property {RTCIceServer[]} [iceServers=[]] None by default: the server is reached directly
 *   (WHIP only; a LiveKit server gives its own).
 * @property {object} [livekit] LiveKit's browser client module (`import * as LivekitClient from
 *   "livekit-client"`), for a page that bundles it; by default it is imported from the server's
 *   /sdk/livekit-client.js when consume chooses LiveKit.
 * @property {boolean} [hangUpOnPageHide=true]
 * @property {number} [connectTimeoutMs=20000]
 * @property {(transcript: TranscriptEntry[], changed: TranscriptEntry) => void} [onTranscript]
 * @property {(state: "thinking"|"speaking"|"listening") => void} [onState]
 * @property {(status: CallStatus) => void} [onStatus]
 * @property {(message: object) => void} [onEvent] Every data-channel message, as parsed.
 * @property {(event: {tool: string, args: object}) => void} [onClientEvent]
 * @property {(info: EndInfo) => void} [onEnded]
 *
 * @typedef {"connecting"|"active"|"ending"|"ended"|"error"} CallStatus
 * @typedef {{id: string, role: "user"|"assistant", turn: number, text: string, final: boolean,
 *   interrupted?: boolean}} TranscriptEntry
 * @typedef {{reason: string, by: "client"|"server"|"network"|"page", hangUpStatus?: number}} EndInfo
 */
export async function connect(credentials, options = {}) {
  const call = new Call(options);
  await call._start(credentials);
  return call;
}

/**
 * One live call. Events (also as `on*` options): `status`, `state`, `transcript`, `message`,
 * `clientevent`, `interrupted`, `turn`, `track`, `audioblocked`, `ended`; each event's
 * `detail` holds its data. `call.on(type, fn)` subscribes `fn(detail)` and returns an
 * unsubscribe function.
 */
export class Call extends EventTarget {
  /** @param {CallOptions} options */
  constructor(options = {}) {
    super();
    this.options = options;
    /** @type {CallStatus} */
    this.status = "connecting";
    /** The avatar's turn-taking state from the server; null until the first report. */
    this.state = null;
    /** @type {TranscriptEntry[]} Runway's flat deltas joined per (role, turn), oldest first. */
    this.transcript = [];
    /** The avatar's audio and video tracks. */
    this.stream = new MediaStream();
    /** @type {HTMLVideoElement} */
    this.videoElement = options.videoElement || document.createElement("video");
    this.videoElement.autoplay = true;
    this.videoElement.playsInline = true;
    /** True when the browser refused to play sound without a user gesture (see resumeAudio). */
    this.audioBlocked = false;
    this.sessionId = null;
    this.roomName = null;
    /** @type {RTCPeerConnection|null} The WHIP peer (null in a LiveKit call). */
    this.peer = null;
    /** LiveKit's `Room`, in a LiveKit call (null over WHIP). */
    this.room = null;
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    /** @type {EndInfo|null} */
    this.endInfo = null;
    /** @type {Promise<EndInfo>} Resolves when the call has ended, whoever ended it. */
    this.ended = new Promise((resolve) => {
      this._resolveEnded = resolve;
    });
    this._token = null;
    this._location = null;
    this._audioTransceiver = null;
    this._microphonePublication = null;
    this._microphone = null;
    this._ownsMicrophone = false;
    this._ending = null;
    this._disconnectTimer = null;
    this._onPageHide = () => this._pageHidden();
  }

  /** The microphone track sent to the avatar, or null. */
  get microphone() {
    return this._microphone;
  }

  /** Whether the microphone is muted (silence is sent). */
  get muted() {
    return !this._microphone || !this._microphone.enabled;
  }

  /** Subscribes `listener(detail)` to an event; returns a function that unsubscribes. */
  on(type, listener) {
    const wrapped = (event) => listener(event.detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /**
   * Hangs up: sends END_CALL on the data channel, DELETEs the WHIP resource, closes the peer.
   * Safe to call more than once and at any time; resolves with how the call ended.
   * @returns {Promise<EndInfo>}
   */
  end() {
    if (!this._ending) this._ending = this._shutdown("ended by the caller", "client");
    return this._ending;
  }

  /** Mutes (sends silence) or unmutes the microphone. */
  setMuted(muted) {
    if (this._microphone) this._microphone.enabled = !muted;
  }

  /**
   * Replaces the microphone: `true` asks for the default one, a stream or track is used as
   * given, `null`/`false` stops sending audio. Resolves with the track in use (or null).
   * @param {boolean|MediaStream|MediaStreamTrack|null} source
   */
  async setMicrophone(source) {
    if (this._ending) throw new OpenCharactersError("ENDED", "The call has ended.");
    const { track, owned } = await acquireMicrophone(source);
    if (this._ending) {
      if (owned && track) track.stop();
      throw new OpenCharactersError("ENDED", "The call has ended.");
    }
    await this._useMicrophone(track, owned);
    return track;
  }

  /** Plays the avatar's sound after the browser blocked autoplay; call it from a click. */
  async resumeAudio() {
    this.videoElement.muted = false;
    await this.videoElement.play();
    this.audioBlocked = false;
  }

  // ----- connecting ----------------------------------------------------------------------------

  async _start(credentials) {
    const options = this.options;
    try {
      const given = credentials || {};
      const consumed = Boolean((given.url || given.serverUrl) && given.token);
      if (!consumed && !(given.sessionId && given.sessionKey)) {
        throw new TypeError("connect needs {sessionId, sessionKey} or {url, token}");
      }
      if (options.hangUpOnPageHide ?? true) window.addEventListener("pagehide", this._onPageHide);
      // The microphone first: consume works once, so a refused microphone must not spend it.
      const microphone = await acquireMicrophone(options.audio ?? true);
      this._microphone = microphone.track;
      this._ownsMicrophone = microphone.owned;
      this._checkNotEnded();

      const media = consumed
        ? { ...given, url: given.url || given.serverUrl }
        : await consume(given);
      this._checkNotEnded();
      this.sessionId = media.sessionId || null;
      this.roomName = media.roomName || this.sessionId;
      this._token = media.token;
      if (/^wss?:\/\//i.test(media.url)) {
        // OPENCHARACTERS_TRANSPORT=livekit: consume gave a LiveKit room (docs/livekit.md).
        await this._joinLiveKit(media, given.baseUrl);
        this._setStatus("active");
        return;
      }

      const peer = new RTCPeerConnection({ iceServers: options.iceServers || [] });
      this.peer = peer;
      this._audioTransceiver = peer.addTransceiver(this._microphone || "audio", {
        direction: "sendrecv",
      });
      peer.addTransceiver("video", { direction: "recvonly" });
      this._attachChannel(peer.createDataChannel("opencharacters"));
      peer.addEventListener("track", (event) => this._addTrack(event.track));
      peer.addEventListener("connectionstatechange", () => this._connectionChanged());

      await peer.setLocalDescription(await peer.createOffer());
      await iceGatheringComplete(peer, ICE_GATHERING_TIMEOUT_MS);
      this._checkNotEnded();

      const answer = await this._postOffer(media.url, peer.localDescription.sdp);
      this._checkNotEnded();
      await peer.setRemoteDescription({ type: "answer", sdp: answer });
      await connected(peer, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      this._checkNotEnded();
      this._setStatus("active");
    } catch (error) {
      const failure =
        error instanceof OpenCharactersError || error instanceof TypeError
          ? error
          : new OpenCharactersError("CONNECTION_FAILED", `Connection failed: ${error}`, {
              cause: error,
            });
      if (!this._ending) {
        this._ending = this._shutdown(failure.message, "client", "error");
      }
      await this._ending;
      throw failure;
    }
  }

  async _postOffer(url, sdp) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this._token}` },
        body: sdp,
      });
    } catch (cause) {
      throw new OpenCharactersError("CONNECTION_FAILED", `Failed to connect: ${cause}`, {
        cause,
      });
    }
    if (!response.ok) {
      throw await responseError(response, "Failed to connect", "CONNECTION_FAILED");
    }
    const location = response.headers.get("Location");
    // Relative Locations are allowed (RFC 9725 §4.2); without one there is nothing to DELETE.
    this._location = location ? new URL(location, url).href : null;
    return response.text();
  }

  // ----- LiveKit ------------------------------------------------------------------------------

  async _joinLiveKit(media, baseUrl) {
    const LiveKit = await loadLiveKit(this.options.livekit, baseUrl);
    this._checkNotEnded();
    const room = new LiveKit.Room({ adaptiveStream: false, dynacast: false });
    this.room = room;
    this._LiveKit = LiveKit;
    const avatarArrived = new Promise((resolve) => {
      this._avatarArrived = resolve;
    });
    room.on(LiveKit.RoomEvent.TrackSubscribed, (track, publication, participant) => {
      if (!isAvatar(participant)) return; // only the avatar is seen and heard
      this._addTrack(track.mediaStreamTrack);
      const kinds = new Set(this.stream.getTracks().map((t) => t.kind));
      if (kinds.has("audio") && kinds.has("video")) this._avatarArrived();
    });
    room.on(LiveKit.RoomEvent.DataReceived, (payload, participant) => {
      if (!participant || isAvatar(participant)) this._receive(payload);
    });
    room.on(LiveKit.RoomEvent.ParticipantDisconnected, (participant) => {
      if (isAvatar(participant) && this.status === "active") {
        this._remoteEnded("the avatar left the call", "server");
      }
    });
    // The server deletes the room when it ends the call (goodbye at maxDuration, cancel).
    room.on(LiveKit.RoomEvent.Disconnected, (reason) => {
      if (this.status !== "active") return;
      const deleted = reason === LiveKit.DisconnectReason.ROOM_DELETED;
      this._remoteEnded(
        deleted ? "the server ended the call" : "the connection was lost",
        deleted ? "server" : "network",
      );
    });
    const timeoutMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const seconds = Math.round(timeoutMs / 1000);
    try {
      await withTimeout(
        room.connect(media.url, media.token, { autoSubscribe: true }),
        timeoutMs,
        `No LiveKit room after ${seconds} s (is ${media.url} reachable from this browser?).`,
      );
    } catch (cause) {
      if (cause instanceof OpenCharactersError) throw cause;
      throw new OpenCharactersError("CONNECTION_FAILED", `Failed to join the room: ${cause}`, {
        cause,
      });
    }
    this._checkNotEnded();
    if (this._microphone) await this._publishMicrophone(this._microphone);
    this._checkNotEnded();
    await withTimeout(
      avatarArrived,
      timeoutMs,
      `The avatar's voice and face did not arrive in the room within ${seconds} s.`,
    );
    this._checkNotEnded();
  }

  /** Publishes `track` as the microphone in place of the one published before (if any). */
  async _publishMicrophone(track) {
    const participant = this.room.localParticipant;
    const previous = this._microphonePublication;
    this._microphonePublication = null;
    if (previous && previous.track) await participant.unpublishTrack(previous.track, false);
    if (!track) return;
    this._microphonePublication = await participant.publishTrack(track, {
      source: this._LiveKit.Track.Source.Microphone,
      name: "microphone",
    });
  }

  _checkNotEnded() {
    if (this._ending) {
      throw new OpenCharactersError("ENDED", "The call was ended while connecting.");
    }
  }

  async _useMicrophone(track, owned) {
    const previous = this._microphone;
    const ownedPrevious = this._ownsMicrophone;
    if (this._audioTransceiver) await this._audioTransceiver.sender.replaceTrack(track);
    if (this.room) await this._publishMicrophone(track);
    this._microphone = track;
    this._ownsMicrophone = owned;
    if (previous && previous !== track && ownedPrevious) previous.stop();
  }

  _addTrack(track) {
    this.stream.addTrack(track);
    const video = this.videoElement;
    // Re-assigning restarts the element's load with both tracks once both have arrived.
    video.srcObject = this.stream;
    this._emit("track", { track, stream: this.stream });
    video.play().catch((error) => {
      if (error && error.name === "NotAllowedError" && !video.muted) {
        // Autoplay with sound needs a user gesture: play muted, let the page offer "sound on".
        video.muted = true;
        this.audioBlocked = true;
        this._emit("audioblocked", { videoElement: video });
        video.play().catch(() => {});
      }
    });
  }

  _connectionChanged() {
    const state = this.peer && this.peer.connectionState;
    if (this.status !== "active") return;
    clearTimeout(this._disconnectTimer);
    this._disconnectTimer = null;
    if (state === "failed" || state === "closed") {
      this._remoteEnded(`the connection ${state}`, "network");
    } else if (state === "disconnected") {
      this._disconnectTimer = setTimeout(
        () => this._remoteEnded("the connection was lost", "network"),
        DISCONNECTED_GRACE_MS,
      );
    }
  }

  // ----- data channel --------------------------------------------------------------------------

  _attachChannel(channel) {
    this.channel = channel;
    channel.binaryType = "arraybuffer";
    channel.addEventListener("message", (event) => this._receive(event.data));
    // The server closes the channel when it ends the call (goodbye at maxDuration, cancel).
    channel.addEventListener("close", () => {
      if (this.status === "active") this._remoteEnded("the server ended the call", "server");
    });
  }

  _receive(data) {
    let message;
    try {
      message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      return;
    }
    if (!message || typeof message !== "object" || Array.isArray(message)) return;
    this._emit("message", message, this.options.onEvent);
    switch (message.type) {
      case "transcription":
        this._transcription(message);
        break;
      case "client_event":
        // Runway's clients drop the server's acks ({"status": "event_sent"}).
        if (
          typeof message.tool === "string" &&
          message.args &&
          typeof message.args === "object" &&
          message.args.status !== "event_sent"
        ) {
          this._emit(
            "clientevent",
            { tool: message.tool, args: message.args },
            this.options.onClientEvent,
          );
        }
        break;
      case "opencharacters.state":
        if (typeof message.state === "string" && message.state !== this.state) {
          this.state = message.state;
          this._emit("state", message.state, this.options.onState);
        }
        break;
      case "opencharacters.interrupted":
        this._interrupted(message);
        break;
      case "opencharacters.turn":
        this._emit("turn", message);
        break;
      default:
        break;
    }
  }

  /** Runway's flat deltas: text appended per (role, turn); a later turn finalises earlier ones. */
  _transcription(message) {
    const role = message.role === "user" ? "user" : "assistant";
    const turn = Number.isInteger(message.turn) ? message.turn : 0;
    const delta = typeof message.text === "string" ? message.text : "";
    const id = `runway-transcription-${role}-${turn}`;
    let changed = null;
    const entries = this.transcript.map((entry) => {
      if (entry.id === id) {
        changed = { ...entry, text: entry.text + delta };
        return changed;
      }
      if (entry.role === role && entry.turn < turn && !entry.final) {
        return { ...entry, final: true };
      }
      return entry;
    });
    if (!changed) {
      changed = { id, role, turn, text: delta, final: false };
      entries.push(changed);
    }
    this._updateTranscript(entries, changed);
  }

  /** The caller spoke over the avatar: its turn stops at the words heard (already sent). */
  _interrupted(message) {
    const id = `runway-transcription-assistant-${message.turn}`;
    let changed = null;
    const entries = this.transcript.map((entry) => {
      if (entry.id !== id) return entry;
      changed = { ...entry, final: true, interrupted: true };
      return changed;
    });
    if (changed) this._updateTranscript(entries, changed);
    this._emit("interrupted", message);
  }

  _updateTranscript(entries, changed) {
    this.transcript = entries;
    this._emit("transcript", { transcript: entries, entry: changed });
    if (this.options.onTranscript) this._safely(() => this.options.onTranscript(entries, changed));
  }

  _sendEndCall() {
    const room = this.room;
    if (room && room.state === "connected") {
      const payload = new TextEncoder().encode(JSON.stringify({ type: "END_CALL" }));
      return room.localParticipant.publishData(payload, { reliable: true }).catch(() => {});
    }
    const channel = this.channel;
    if (channel && channel.readyState === "open") {
      try {
        channel.send(JSON.stringify({ type: "END_CALL" }));
      } catch {
        // closing already
      }
    }
  }

  // ----- ending --------------------------------------------------------------------------------

  _remoteEnded(reason, by) {
    if (!this._ending) this._ending = this._shutdown(reason, by);
  }

  _pageHidden() {
    if (this._ending) return;
    // The page is going away: no awaiting. keepalive lets the DELETE outlive the page.
    this._sendEndCall();
    if (this.room) this.room.disconnect(false);
    if (this._location && this._token) {
      fetch(this._location, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${this._token}` },
        keepalive: true,
      }).catch(() => {});
      this._location = null;
    }
    this._ending = this._shutdown("the page was closed", "page");
  }

  async _shutdown(reason, by, finalStatus = "ended") {
    const wasConnected = this.status === "active";
    if (finalStatus !== "error") this._setStatus("ending");
    window.removeEventListener("pagehide", this._onPageHide);
    clearTimeout(this._disconnectTimer);
    const endCallSent = this._sendEndCall();
    const info = { reason, by };
    if (this.room) {
      // END_CALL first (the call ends COMPLETED), then leave; leaving alone would end it too.
      if (endCallSent) {
        await settledWithin(endCallSent, HANG_UP_TIMEOUT_MS);
        await delay(END_CALL_FLUSH_MS);
      }
      // false: a microphone the page gave is not stopped (below, only one this client opened).
      const left = this.room.disconnect(false).catch(() => {});
      await settledWithin(left, HANG_UP_TIMEOUT_MS);
    }
    if (this._location && this._token) {
      const location = this._location;
      this._location = null;
      // Waited for at most HANG_UP_TIMEOUT_MS but never aborted, and its (empty) body read to
      // the end: Chromium reports a request whose body is left unread, or that is aborted, as
      // net::ERR_ABORTED in the console although the server answered it.
      const request = fetch(location, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${this._token}` },
      }).then(
        async (response) => {
          info.hangUpStatus = response.status;
          await response.arrayBuffer().catch(() => {});
        },
        () => {
          // the server is gone: closing the peer below ends the call there too
        },
      );
      let timer;
      const slow = new Promise((resolve) => {
        timer = setTimeout(resolve, HANG_UP_TIMEOUT_MS);
      });
      await Promise.race([request, slow]);
      clearTimeout(timer);
    }
    if (this.peer) this.peer.close();
    if (this._microphone && this._ownsMicrophone) this._microphone.stop();
    for (const track of this.stream.getTracks()) track.stop();
    this.transcript = this.transcript.map((entry) =>
      entry.final ? entry : { ...entry, final: true },
    );
    this.endInfo = info;
    this._setStatus(finalStatus);
    if (wasConnected || finalStatus === "ended") {
      this._emit("ended", info, this.options.onEnded);
    }
    this._resolveEnded(info);
    return info;
  }

  // ----- helpers -------------------------------------------------------------------------------

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit("status", status, this.options.onStatus);
  }

  _emit(type, detail, callback) {
    if (callback) this._safely(() => callback(detail));
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _safely(fn) {
    try {
      fn();
    } catch (error) {
      // A page's handler must not break the call; report it where developers look.
      setTimeout(() => {
        throw error;
      });
    }
  }
}

/** @returns {Promise<{track: MediaStreamTrack|null, owned: boolean}>} */
async function acquireMicrophone(source) {
  if (!source) return { track: null, owned: false };
  if (typeof MediaStreamTrack !== "undefined" && source instanceof MediaStreamTrack) {
    return { track: source, owned: false };
  }
  if (typeof MediaStream !== "undefined" && source instanceof MediaStream) {
    const track = source.getAudioTracks()[0];
    if (!track) throw new OpenCharactersError("MEDIA_DEVICE_ERROR", "The stream has no audio.");
    return { track, owned: false };
  }
  const devices = globalThis.navigator && globalThis.navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) {
    throw new OpenCharactersError(
      "MEDIA_DEVICE_ERROR",
      "This page cannot use a microphone: browsers allow it only on https:// or localhost.",
    );
  }
  try {
    const stream = await devices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    return { track: stream.getAudioTracks()[0], owned: true };
  } catch (cause) {
    const denied = cause && (cause.name === "NotAllowedError" || cause.name === "SecurityError");
    throw new OpenCharactersError(
      denied ? "MEDIA_PERMISSION_DENIED" : "MEDIA_DEVICE_ERROR",
      denied ? "Microphone access was denied." : `No microphone: ${cause}`,
      { cause },
    );
  }
}

function isAvatar(participant) {
  return Boolean(participant && String(participant.identity).startsWith(AVATAR_IDENTITY_PREFIX));
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise` (which never rejects) for at most `timeoutMs`. */
function settledWithin(promise, timeoutMs) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function withTimeout(promise, timeoutMs, message) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new OpenCharactersError("CONNECTION_FAILED", message)),
      timeoutMs,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * LiveKit's browser client: the module the page gave, or the one its server serves (installed
 * from npm at the server's set-up), imported once and only for calls over LiveKit.
 */
let livekitImport = null;
async function loadLiveKit(given, baseUrl) {
  if (given) return given;
  const server = baseUrl || defaultBaseUrl();
  if (!server) {
    throw new OpenCharactersError(
      "CONNECTION_FAILED",
      "This call is in a LiveKit room: give the `livekit` option (LiveKit's browser client) or " +
        "baseUrl, so that /sdk/livekit-client.js can be loaded from the server.",
    );
  }
  const url = String(server).replace(/\/+$/, "") + LIVEKIT_CLIENT_PATH;
  if (!livekitImport) {
    livekitImport = import(/* @vite-ignore */ /* webpackIgnore: true */ url);
    livekitImport.catch(() => {
      livekitImport = null; // a later call may try again (e.g. once it has been installed)
    });
  }
  try {
    return await livekitImport;
  } catch (cause) {
    // The import's own error says little ("Failed to fetch dynamically imported module"):
    // ask the server why (it answers 404 with how to install it).
    let response = null;
    try {
      response = await fetch(url);
    } catch {
      // unreachable: the import's error is all there is
    }
    if (response && !response.ok) {
      throw await responseError(response, "Cannot load LiveKit's client", "CONNECTION_FAILED");
    }
    throw new OpenCharactersError(
      "CONNECTION_FAILED",
      `Cannot load LiveKit's client from ${url}: ${cause}`,
      { cause },
    );
  }
}

/** WHIP here takes no trickled candidates: the offer leaves with all of them. */
function iceGatheringComplete(peer, timeoutMs) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      peer.removeEventListener("icegatheringstatechange", changed);
      peer.removeEventListener("icecandidate", candidate);
      resolve();
    };
    const changed = () => {
      if (peer.iceGatheringState === "complete") done();
    };
    // A null candidate also marks the end of gathering.
    const candidate = (event) => {
      if (!event.candidate) done();
    };
    // Past the timeout, go with the candidates found so far.
    const timer = setTimeout(done, timeoutMs);
    peer.addEventListener("icegatheringstatechange", changed);
    peer.addEventListener("icecandidate", candidate);
  });
}

function connected(peer, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const state = peer.connectionState;
      if (state === "connected") {
        finish();
        resolve();
      } else if (state === "failed" || state === "closed") {
        finish();
        reject(new OpenCharactersError("CONNECTION_FAILED", `The connection ${state}.`));
      }
    };
    const finish = () => {
      clearTimeout(timer);
      peer.removeEventListener("connectionstatechange", check);
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        new OpenCharactersError(
          "CONNECTION_FAILED",
          `No media connection after ${Math.round(timeoutMs / 1000)} s ` +
            "(is the server's address reachable from this browser?).",
        ),
      );
    }, timeoutMs);
    peer.addEventListener("connectionstatechange", check);
    check();
  });
}

/** Everything, for `import OpenCharacters from ".../opencharacters.js"`. */
const OpenCharacters = { VERSION, connect, consume, Call, OpenCharactersError };
export default OpenCharacters;
