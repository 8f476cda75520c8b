"""The browser client's message handling and consume, run in Node with the browser parts stubbed
(the browser end-to-end test covers media; this covers what a call may not provoke)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from opencharacters.portal import static_path

NODE = shutil.which("node")
pytestmark = [pytest.mark.integration, pytest.mark.skipif(NODE is None, reason="needs Node.js")]

STUBS = """
globalThis.window = new EventTarget();
globalThis.document = { createElement: () => ({ play: async () => {} }) };
globalThis.MediaStream = class {
  constructor() { this.tracks = []; }
  addTrack(track) { this.tracks.push(track); }
  getTracks() { return this.tracks; }
};
const sdk = await import(process.argv[1]);
const out = {};
"""


def run_node(script: str) -> Any:
    assert NODE is not None
    module = str(static_path("opencharacters.js"))
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", STUBS + script, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_messages_build_runway_transcript_and_events() -> None:
    result = run_node(
        """
        const seen = { transcript: [], state: [], client: [], events: 0, interrupted: [] };
        const call = new sdk.Call({
          onTranscript: (all, entry) => seen.transcript.push([entry.id, entry.text, all.length]),
          onState: (state) => seen.state.push(state),
          onClientEvent: (event) => seen.client.push(event),
          onEvent: () => seen.events++,
        });
        call.on("interrupted", (message) => seen.interrupted.push(message.heard));
        const messages = [
          {type: "opencharacters.state", state: "thinking"},
          {type: "opencharacters.state", state: "speaking"},
          {type: "transcription", role: "assistant", turn: 1, text: "Hi,"},
          {type: "transcription", role: "assistant", turn: 1, text: " I'm Ada."},
          {type: "opencharacters.state", state: "listening"},
          {type: "transcription", role: "user", turn: 2, text: "Tell me a story."},
          {type: "transcription", role: "assistant", turn: 3, text: "Once"},
          {type: "opencharacters.interrupted", turn: 3, heard: "Once"},
          {type: "client_event", tool: "show_card", args: {title: "Moon"}},
          {type: "client_event", tool: "show_card", args: {status: "event_sent"}},
          {type: "client_event", tool: "bad", args: null},
          {type: "transcription", text: "no role or turn"},
          {type: "something.new", value: 1},
        ];
        for (const message of messages) call._receive(JSON.stringify(message));
        for (const junk of ["not json", "[1, 2]", "null", new TextEncoder().encode("{}").buffer]) {
          call._receive(junk);
        }
        out.seen = seen;
        out.state = call.state;
        out.transcript = call.transcript;
        console.log(JSON.stringify(out));
        """
    )
    assert result["state"] == "listening"
    assert result["seen"]["state"] == ["thinking", "speaking", "listening"]
    assert result["seen"]["client"] == [{"tool": "show_card", "args": {"title": "Moon"}}]
    assert result["seen"]["events"] == 14  # every JSON object, known or not
    assert result["seen"]["interrupted"] == ["Once"]
    assert result["seen"]["transcript"][:2] == [
        ["runway-transcription-assistant-1", "Hi,", 1],
        ["runway-transcription-assistant-1", "Hi, I'm Ada.", 1],
    ]
    assert result["transcript"] == [
        {
            "id": "runway-transcription-assistant-1",
            "role": "assistant",
            "turn": 1,
            "text": "Hi, I'm Ada.",
            "final": True,  # a later assistant turn arrived
        },
        {
            "id": "runway-transcription-user-2",
            "role": "user",
            "turn": 2,
            "text": "Tell me a story.",
            "final": False,
        },
        {
            "id": "runway-transcription-assistant-3",
            "role": "assistant",
            "turn": 3,
            "text": "Once",
            "final": True,
            "interrupted": True,
        },
        {  # Runway's defaults: role assistant, turn 0
            "id": "runway-transcription-assistant-0",
            "role": "assistant",
            "turn": 0,
            "text": "no role or turn",
            "final": False,
        },
    ]


def test_consume_sends_what_runway_sends_and_surfaces_server_errors() -> None:
    result = run_node(
        """
        const requests = [];
        const answers = [
          new Response(JSON.stringify({url: "http://h:1/v1/realtime_sessions/s1/whip",
                                       token: "t", roomName: "s1"}), {status: 200}),
          new Response(JSON.stringify({error: "Invalid session key for this session."}),
                       {status: 401}),
          new Response("upstream broke", {status: 502, statusText: "Bad Gateway"}),
        ];
        globalThis.fetch = async (url, init) => {
          requests.push({url, method: init.method, headers: init.headers, body: init.body});
          return answers.shift();
        };
        out.ok = await sdk.consume({baseUrl: "http://h:1/", sessionId: "s1", sessionKey: "k"});
        out.errors = [];
        for (let i = 0; i < 2; i++) {
          try { await sdk.consume({baseUrl: "http://h:1", sessionId: "s1", sessionKey: "k"}); }
          catch (e) { out.errors.push([e.name, e.code, e.status, e.message]); }
        }
        try { await sdk.connect({sessionId: "s1"}); }
        catch (e) { out.errors.push([e.name, e.message]); }
        // Loaded from a file, not from a server's /sdk/: no server to default to.
        try { await sdk.consume({sessionId: "s1", sessionKey: "k"}); }
        catch (e) { out.errors.push([e.name, e.message]); }
        out.requests = requests;
        console.log(JSON.stringify(out));
        """
    )
    assert result["ok"] == {
        "sessionId": "s1",
        "url": "http://h:1/v1/realtime_sessions/s1/whip",
        "token": "t",
        "roomName": "s1",
    }
    assert result["requests"][0] == {
        "url": "http://h:1/v1/realtime_sessions/s1/consume",
        "method": "POST",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer k"},
    }
    assert result["errors"] == [
        [
            "OpenCharactersError",
            "CONSUME_FAILED",
            401,
            "Failed to consume session (401): Invalid session key for this session.",
        ],
        [
            "OpenCharactersError",
            "CONSUME_FAILED",
            502,
            "Failed to consume session (502): upstream broke",
        ],
        ["TypeError", "connect needs {sessionId, sessionKey} or {url, token}"],
        [
            "TypeError",
            "consume needs baseUrl (this copy of the client was not loaded from /sdk/)",
        ],
    ]
    assert len(result["requests"]) == 3


def test_a_livekit_call_without_livekit_client_says_how_to_get_it() -> None:
    """consume chose LiveKit, and the server has no /sdk/livekit-client.js: the server's 404
    message (how to install it) becomes the error; without a server to load it from, the error
    names the `livekit` option."""
    result = run_node(
        """
        const requests = [];
        globalThis.fetch = async (url, init = {}) => {
          requests.push([init.method || "GET", url]);
          if (url.endsWith("/consume")) {
            return new Response(JSON.stringify({url: "ws://lk:7880", token: "jwt", roomName: "s1"}),
                                {status: 200});
          }
          return new Response(JSON.stringify({error: "/sdk/livekit-client.js is not installed"}),
                              {status: 404});
        };
        const errors = [];
        for (const credentials of [
          {baseUrl: "http://h:1", sessionId: "s1", sessionKey: "k"},
          {url: "wss://lk.example.org", token: "jwt"},
        ]) {
          try { await sdk.connect(credentials, {audio: false, hangUpOnPageHide: false}); }
          catch (e) { errors.push([e.name, e.code, e.status ?? null, e.message]); }
        }
        out.errors = errors;
        out.requests = requests;
        console.log(JSON.stringify(out));
        """
    )
    assert result["errors"] == [
        [
            "OpenCharactersError",
            "CONNECTION_FAILED",
            404,
            "Cannot load LiveKit's client (404): /sdk/livekit-client.js is not installed",
        ],
        [
            "OpenCharactersError",
            "CONNECTION_FAILED",
            None,
            "This call is in a LiveKit room: give the `livekit` option (LiveKit's browser "
            "client) or baseUrl, so that /sdk/livekit-client.js can be loaded from the server.",
        ],
    ]
    assert result["requests"] == [
        ["POST", "http://h:1/v1/realtime_sessions/s1/consume"],
        ["GET", "http://h:1/sdk/livekit-client.js"],
    ]


FAKE_LIVEKIT = """
class FakeRoom {
  constructor(options) {
    this.options = options; this.handlers = {}; this.state = "disconnected"; this.log = [];
    this.remoteParticipants = new Map();
    const room = this;
    this.localParticipant = {
      async publishTrack(track, options) {
        room.log.push(["publish", track.id, options.source]); return {track: {id: track.id}};
      },
      async unpublishTrack(track, stop) { room.log.push(["unpublish", track.id, stop]); },
      async publishData(payload, options) {
        room.log.push(["data", new TextDecoder().decode(payload), options.reliable]);
      },
    };
    globalThis.rooms.push(this);
  }
  on(event, handler) { (this.handlers[event] ||= []).push(handler); return this; }
  emit(event, ...args) { for (const handler of this.handlers[event] || []) handler(...args); }
  async connect(url, token, options) {
    this.log.push(["connect", url, token, options.autoSubscribe]);
    this.state = "connected";
    const avatar = {identity: "worker:avatar"}, other = {identity: "caller:x"};
    setTimeout(() => {
      this.emit("trackSubscribed", {mediaStreamTrack: track("audio", "o")}, {}, other);
      this.emit("trackSubscribed", {mediaStreamTrack: track("audio", "a")}, {}, avatar);
      this.emit("trackSubscribed", {mediaStreamTrack: track("video", "v")}, {}, avatar);
    }, 10);
  }
  async disconnect(stopTracks) {
    this.log.push(["disconnect", stopTracks]); this.state = "disconnected";
  }
}
const LiveKit = {
  Room: FakeRoom,
  RoomEvent: {TrackSubscribed: "trackSubscribed", DataReceived: "dataReceived",
              ParticipantDisconnected: "participantDisconnected", Disconnected: "disconnected"},
  DisconnectReason: {ROOM_DELETED: 6},
  Track: {Source: {Microphone: "microphone"}},
};
globalThis.rooms = [];
globalThis.MediaStreamTrack = class {
  constructor(id) { this.id = id; this.kind = "audio"; }
  stop() {}
};
globalThis.fetch = async () => { throw new Error("nothing may be fetched"); };
const track = (kind, id) => ({kind, id, stop() {}});
const encode = (message) => new TextEncoder().encode(JSON.stringify(message));
"""


def test_a_livekit_call_plays_the_avatar_and_speaks_runways_messages() -> None:
    """The client's LiveKit side with a stand-in for LiveKit's module (the browser test in
    tests/engine/live/test_livekit_js_client.py runs the real one): only the `worker:` avatar
    is played and listened to, the microphone is published as the Microphone source and
    replaced by setMicrophone, End sends END_CALL before leaving, a deleted room ends the call."""
    result = run_node(
        FAKE_LIVEKIT
        + """
        const seen = {states: [], ended: []};
        const call = await sdk.connect(
          {url: "ws://lk:7880", token: "jwt", roomName: "s1"},
          {audio: new MediaStreamTrack("mic1"), livekit: LiveKit, hangUpOnPageHide: false,
           onState: (state) => seen.states.push(state),
           onEnded: (info) => seen.ended.push(info)});
        const [room] = rooms;
        out.status = call.status;
        out.tracks = call.stream.getTracks().map((track) => track.id);
        room.emit("dataReceived", encode({type: "opencharacters.state", state: "speaking"}),
                  {identity: "worker:avatar"});
        room.emit("dataReceived", encode({type: "transcription", role: "assistant", turn: 1,
                                          text: "Hi"}), {identity: "worker:avatar"});
        room.emit("dataReceived", encode({type: "transcription", role: "user", turn: 2,
                                          text: "spoofed"}), {identity: "caller:x"});
        await call.setMicrophone(new MediaStreamTrack("mic2"));
        out.transcript = call.transcript.map((entry) => [entry.role, entry.text]);
        out.end = await call.end();
        out.log = room.log;
        out.seen = seen;

        const second = await sdk.connect({url: "ws://lk:7880", token: "jwt2"},
                                         {audio: false, livekit: LiveKit, hangUpOnPageHide: false});
        rooms[1].state = "disconnected";
        rooms[1].emit("disconnected", 6);
        out.secondEnd = await second.ended;
        out.secondLog = rooms[1].log;
        console.log(JSON.stringify(out));
        """
    )
    assert result["status"] == "active"
    assert result["tracks"] == ["a", "v"]
    assert result["transcript"] == [["assistant", "Hi"]]
    assert result["seen"]["states"] == ["speaking"]
    assert result["end"] == {"reason": "ended by the caller", "by": "client"}
    assert result["seen"]["ended"] == [result["end"]]
    assert result["log"] == [
        ["connect", "ws://lk:7880", "jwt", True],
        ["publish", "mic1", "microphone"],
        ["unpublish", "mic1", False],
        ["publish", "mic2", "microphone"],
        ["data", '{"type":"END_CALL"}', True],
        ["disconnect", False],
    ]
    assert result["secondEnd"] == {"reason": "the server ended the call", "by": "server"}
    assert result["secondLog"] == [["connect", "ws://lk:7880", "jwt2", True], ["disconnect", False]]
