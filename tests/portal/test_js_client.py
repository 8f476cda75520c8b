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


def test_a_livekit_room_from_consume_is_refused_clearly() -> None:
    """With OPENCHARACTERS_TRANSPORT=livekit consume returns a LiveKit URL: this WHIP client says
    so instead of posting an offer there (docs/livekit.md)."""
    result = run_node(
        """
        globalThis.fetch = async () => { throw new Error("nothing may be fetched"); };
        try {
          await sdk.connect({url: "wss://livekit.example.org", token: "jwt", roomName: "s1"},
                            {audio: false, hangUpOnPageHide: false});
        } catch (e) { out.error = [e.name, e.code, e.message]; }
        console.log(JSON.stringify(out));
        """
    )
    name, code, message = result["error"]
    assert (name, code) == ("OpenCharactersError", "CONNECTION_FAILED")
    assert "LiveKit" in message and "@runwayml/avatars" in message
