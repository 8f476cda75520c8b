"""Live calls over the LiveKit transport, through the real thing: a livekit-server process, an
`opencharacters serve` process with OPENCHARACTERS_TRANSPORT=livekit, real models, and a caller
built on the `livekit` rtc SDK that does what Runway's browser SDK does (consume, join the room
with the token, publish a microphone, read data messages, END_CALL)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
import pytest

from opencharacters.media.audio import Samples
from tests.engine.live.conftest import (
    LIVEKIT_CONNECT_TIMEOUT_S,
    consume,
    conversation,
    in_thread,
    ready_session,
    wait_status,
)
from tests.support.livekit import LiveKitCaller, LiveKitServer
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Say = Callable[[str], tuple[Samples, int]]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


async def test_a_livekit_call_greets_hears_answers_and_completes(
    livekit: LiveKitServer, lk_api: httpx.Client, lk_avatar: str, say: Say
) -> None:
    question = say("What is your name?")
    session_id, key = await in_thread(ready_session, lk_api, lk_avatar)
    response = await in_thread(consume, lk_api, session_id, key)
    assert response.status_code == 200, response.text
    credentials = response.json()
    assert credentials["url"] == livekit.url and credentials["roomName"] == session_id
    claims = jwt.decode(credentials["token"], livekit.api_secret, algorithms=["HS256"])
    assert claims["iss"] == livekit.api_key and claims["sub"].startswith("caller:")
    assert claims["video"]["room"] == session_id and claims["video"]["roomJoin"] is True
    assert claims["video"]["canPublishData"] is True
    assert 0 < claims["exp"] - time.time() <= 600
    again = await in_thread(consume, lk_api, session_id, key)
    assert again.status_code == 409, "credentials are consumed once"

    from livekit import rtc

    caller = LiveKitCaller()
    await caller.join(credentials["url"], credentials["token"])
    try:
        await caller.wait_for_state("speaking", 60)
        await caller.wait_for_state("listening", 60)
        running = await in_thread(lk_api.get, f"/v1/realtime_sessions/{session_id}")
        assert running.json()["status"] == "RUNNING"
        assert caller.transcript("assistant") == {1: "Hi, I'm Ada."}
        greeting = caller.audio_after(0)
        assert np.abs(greeting).max() > 0.05, "the greeting was heard, not only transcribed"
        # The avatar is one `worker:` participant with a Camera video and a Microphone voice.
        assert caller.avatar_identity is not None and caller.avatar_identity.startswith("worker:")
        assert caller.video_sources == [rtc.TrackSource.SOURCE_CAMERA]
        assert caller.audio_sources == [rtc.TrackSource.SOURCE_MICROPHONE]
        assert caller.frame_size == (1088, 704)
        assert caller.frame_count > 25, "frames keep arriving"
        seen = [pixels.astype(np.int16) for _, pixels in caller.frames]
        moved = max(float(np.abs(a - b).mean()) for a, b in itertools.pairwise(seen))
        assert moved > 0.5, "the face moves: the frames change"

        since = len(caller.messages)
        caller.say(*question)
        await caller.wait_for_state("speaking", 60, since)
        await caller.wait_for_state("listening", 90, since + 1)
        heard = caller.transcript("user")
        answers = caller.transcript("assistant")
        assert list(heard) == [2] and {"what", "your", "name"} <= words(heard[2])
        assert 3 in answers and answers[3].strip()
        await caller.end_call()
    finally:
        await caller.leave()
    session = await in_thread(wait_status, lk_api, session_id, {"COMPLETED"})
    assert session["duration"] >= 1
    record = await in_thread(conversation, lk_api, session_id)
    transcript = record["transcript"]
    assert [entry["role"] for entry in transcript] == ["assistant", "user", "assistant"]
    assert transcript[0]["content"] == "Hi, I'm Ada."
    assert transcript[1]["content"] == heard[2]
    assert record["recordingUrl"], "the call was recorded"


async def test_delete_ends_a_livekit_call_for_the_caller(
    lk_api: httpx.Client, lk_avatar: str
) -> None:
    session_id, key = await in_thread(ready_session, lk_api, lk_avatar)
    credentials = (await in_thread(consume, lk_api, session_id, key)).json()
    caller = LiveKitCaller()
    await caller.join(credentials["url"], credentials["token"])
    try:
        await caller.wait_for_state("speaking", 60)
        deleted = await in_thread(lk_api.delete, f"/v1/realtime_sessions/{session_id}")
        assert deleted.status_code == 204
        # The room is closed for everyone: the page sees the call end.
        await asyncio.wait_for(caller.disconnected.wait(), 10)
    finally:
        await caller.leave()
    session = await in_thread(wait_status, lk_api, session_id, {"CANCELLED"})
    assert session["status"] == "CANCELLED"


async def test_two_rooms_at_once_a_caller_leaving_and_a_caller_who_never_joins(
    lk_api: httpx.Client, lk_avatar: str
) -> None:
    # A third session is consumed and never joined: it fails while the other two run.
    absent_id, absent_key = await in_thread(ready_session, lk_api, lk_avatar)
    assert (await in_thread(consume, lk_api, absent_id, absent_key)).status_code == 200
    scripts = ["Bo here, hello from the bakery.", "Cy speaking, welcome to the garage."]
    sessions = [
        await in_thread(ready_session, lk_api, lk_avatar, startScript=script) for script in scripts
    ]
    callers = [LiveKitCaller(), LiveKitCaller()]
    try:
        for caller, (session_id, key) in zip(callers, sessions, strict=True):
            credentials = (await in_thread(consume, lk_api, session_id, key)).json()
            assert credentials["roomName"] == session_id
            await caller.join(credentials["url"], credentials["token"])
        for caller in callers:
            await caller.wait_for_state("listening", 60)
        for caller, script in zip(callers, scripts, strict=True):
            assert caller.transcript("assistant") == {1: script}
            # Each room holds its caller and its own avatar, nobody else.
            assert [p.identity for p in caller.room.remote_participants.values()] == [
                "worker:avatar"
            ]
        # Leaving without END_CALL (a closed tab) completes the call; the other one goes on.
        await callers[0].leave()
        first = await in_thread(wait_status, lk_api, sessions[0][0], {"COMPLETED"})
        assert first["status"] == "COMPLETED"
        still = await in_thread(lk_api.get, f"/v1/realtime_sessions/{sessions[1][0]}")
        assert still.json()["status"] == "RUNNING"
        await callers[1].end_call()
    finally:
        for caller in callers:
            await caller.leave()
    await in_thread(wait_status, lk_api, sessions[1][0], {"COMPLETED"})
    absent = await in_thread(
        wait_status, lk_api, absent_id, {"FAILED", "COMPLETED"}, LIVEKIT_CONNECT_TIMEOUT_S + 20
    )
    assert absent["status"] == "FAILED" and absent["failureCode"] == "CONNECTION_TIMEOUT"
    assert "LiveKit room" in absent["failure"]


async def test_speaking_over_the_avatar_interrupts_it_in_the_room(
    lk_api: httpx.Client, lk_avatar: str, say_naturally: Say
) -> None:
    script = (
        "Welcome to the space museum. Today I will tell you about every planet in our solar "
        "system, starting with Mercury, the smallest and fastest, then Venus, the hottest, and "
        "then our own Earth, before we travel to Mars and the giant planets beyond it."
    )
    session_id, key = await in_thread(ready_session, lk_api, lk_avatar, startScript=script)
    credentials = (await in_thread(consume, lk_api, session_id, key)).json()
    caller = LiveKitCaller()
    await caller.join(credentials["url"], credentials["token"])
    try:
        await caller.wait_for_state("speaking", 60)
        await asyncio.sleep(2.0)
        since = len(caller.messages)
        caller.say(*say_naturally("Stop, please. How far away is the Moon?"))
        cut = await caller.wait_for(
            lambda m: m.get("type") == "opencharacters.interrupted", 20, since
        )
        interrupted = next(
            at for at, m in caller.messages if m.get("type") == "opencharacters.interrupted"
        )
        await caller.wait_for_state("speaking", 60, since)
        heard = cut["heard"]
        assert heard and script.startswith(heard) and len(heard) < len(script)
        assert caller.transcript("assistant")[1].strip() == heard
        # The voice in the room went quiet soon after the interruption was detected.
        quiet = [pcm for at, pcm in caller.audio if interrupted + 0.3 < at < interrupted + 0.8]
        assert quiet and np.abs(np.concatenate(quiet)).max() < 0.02
        await caller.end_call()
    finally:
        await caller.leave()
    await in_thread(wait_status, lk_api, session_id, {"COMPLETED"})
    transcript = (await in_thread(conversation, lk_api, session_id))["transcript"]
    assert transcript[0]["content"] == heard and transcript[0]["interrupted"] is True


ORDER_TOOL = {
    "type": "backend_rpc",
    "name": "show_order",
    "description": "Show an order and its delivery status",
    "timeoutSeconds": 5,
    "parameters": [{"type": "string", "name": "order_id", "description": "the order number"}],
}


PRODUCTS = ["running shoes", "rain jacket", "wool hat"]
PRODUCT_TOOL = {
    "type": "client_event",
    "name": "show_product",
    "description": "Show a product on the caller's screen",
    "parameters": [
        {
            "type": "string",
            "name": "product",
            "description": "the product to show",
            "enum": PRODUCTS,
        }
    ],
}


async def test_runways_node_rpc_helper_answers_backend_tools_in_the_room(
    lk_server: Server, lk_api: httpx.Client, lk_avatar: str, say_naturally: Say
) -> None:
    helper = runway_rpc_helper()
    session_id, key = await in_thread(
        ready_session,
        lk_api,
        lk_avatar,
        personality="You are Sam, the assistant of an outdoor clothing shop.",
        startScript="Hi, Sam here.",
        tools=[ORDER_TOOL, PRODUCT_TOOL],
    )
    # The developer's backend: Runway's @runwayml/avatars-node-rpc, unchanged. It calls
    # connect_backend, joins the room hidden and answers each tool as a LiveKit RPC method
    # (only for `worker:` callers, args from `payload.args`).
    backend = await asyncio.create_subprocess_exec(
        "node",
        str(helper),
        lk_server.base_url,
        API_KEY,
        session_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert backend.stdout is not None
    lines: list[dict[str, Any]] = []

    async def read_line() -> dict[str, Any]:
        assert backend.stdout is not None
        raw = await asyncio.wait_for(backend.stdout.readline(), 60)
        assert raw, f"the backend exited: {lines}"
        line: dict[str, Any] = json.loads(raw) if raw.startswith(b"{") else {"text": raw}
        lines.append(line)
        return line

    caller = LiveKitCaller()
    try:
        while (await read_line()).get("event") != "connected":
            pass
        credentials = (await in_thread(consume, lk_api, session_id, key)).json()
        await caller.join(credentials["url"], credentials["token"])
        await caller.wait_for_state("listening", 60)
        # The backend is hidden: the page sees the avatar only.
        assert list(caller.room.remote_participants) == ["worker:avatar"]
        since = len(caller.messages)
        caller.say(*say_naturally("Please show me order 42."))
        await caller.wait_for_state("speaking", 60, since)
        await caller.wait_for_state("listening", 90, since + 1)
        answers = caller.transcript("assistant")
        context = (caller.transcript("user"), answers, lines)
        while not [line for line in lines if line.get("event") == "call"]:
            await read_line()
        call = next(line for line in lines if line.get("event") == "call")
        assert call["tool"] == "show_order" and "42" in call["args"]["order_id"], context
        # A client_event tool reaches the page as a data message in Runway's format.
        since = len(caller.messages)
        caller.say(*say_naturally("Please show me the rain jacket."))
        event = await caller.wait_for(lambda m: m.get("type") == "client_event", 60, since)
        heard = caller.transcript("user")
        assert event["tool"] == "show_product" and set(event) == {"type", "tool", "args"}, heard
        assert event["args"]["product"] in PRODUCTS, heard
        await caller.wait_for_state("listening", 60, since + 1)
        await caller.end_call()
        # The session's room closes: the helper sees its disconnect and exits.
        while (await read_line()).get("event") != "disconnected":
            pass
        assert await asyncio.wait_for(backend.wait(), 20) == 0
    finally:
        await caller.leave()
        if backend.returncode is None:
            backend.kill()
            await backend.wait()
    assert any("shipped" in text.lower() for text in answers.values()), answers
    await in_thread(wait_status, lk_api, session_id, {"COMPLETED"})
    record = await in_thread(conversation, lk_api, session_id)
    acted = [e for e in record["transcript"] if e.get("toolCalls")]
    assert [e["toolCalls"][0]["name"] for e in acted] == ["show_order", "show_product"]
    result = acted[0]["toolResults"][0]
    assert (
        result["result"] == {"status": "shipped", "arrives": "Friday"} and result["error"] is None
    )


def runway_rpc_helper() -> Path:
    """tests/engine/live/runway_rpc_backend/backend.mjs with Runway's helper installed (once
    per machine, into .cache/runway-rpc-backend/)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed for Runway's RPC helper", pytrace=False)
        pytest.skip("node and npm are needed for Runway's RPC helper")
    assert npm is not None
    source = Path(__file__).with_name("runway_rpc_backend")
    cache = Path(__file__).resolve().parents[3] / ".cache" / "runway-rpc-backend"
    cache.mkdir(parents=True, exist_ok=True)
    wanted = json.loads((source / "package.json").read_text())["dependencies"]
    installed = cache / "node_modules" / "@runwayml" / "avatars-node-rpc" / "package.json"
    if (
        not installed.exists()
        or json.loads(installed.read_text())["version"] != wanted["@runwayml/avatars-node-rpc"]
    ):
        shutil.copyfile(source / "package.json", cache / "package.json")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=cache,
            check=True,
            timeout=600,
            capture_output=True,
        )
    shutil.copyfile(source / "backend.mjs", cache / "backend.mjs")
    return cache / "backend.mjs"
