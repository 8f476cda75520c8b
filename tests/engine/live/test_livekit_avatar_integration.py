"""The avatar as the face of someone else's LiveKit agent (`integration: {type: "livekit"}`),
through the real thing: a livekit-server process, an `opencharacters serve` process with its
media worker, and a scripted agent in the developer's own room that speaks LiveKit Agents'
avatar protocol with the `livekit` rtc SDK (tests/support/livekit_agent.py says why not the
`livekit-agents` package itself)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import Samples, resample, wav_bytes
from tests.engine.live.conftest import in_thread, wait_status
from tests.support.livekit import LiveKitServer
from tests.support.livekit_agent import AGENT_RATE, ScriptedAgent, room_token
from tests.support.server import API_KEY, Server

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Say = Callable[[str], tuple[Samples, int]]


def create(api: httpx.Client, avatar_id: str, **fields: Any) -> httpx.Response:
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    return api.post("/v1/realtime_sessions", json={**body, **fields})


def activity(frames: list[np.ndarray[Any, Any]]) -> float:
    """How much the picture changes from frame to frame where it changes most (the mouth), as
    the median over the frames: a blink now and then does not count, a talking mouth does."""
    changes = []
    for a, b in itertools.pairwise(frames):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).ravel()
        top = np.partition(diff, len(diff) - 200)[-200:]
        changes.append(float(top.mean()))
    return float(np.median(changes)) if changes else 0.0


def frames_between(agent: ScriptedAgent, start: float, end: float) -> list[np.ndarray[Any, Any]]:
    return [pixels for at, pixels in agent.frames if start <= at < end]


async def test_the_avatar_gives_an_agent_a_face_in_its_own_room(
    livekit: LiveKitServer, lk_api: httpx.Client, lk_avatar: str, say_naturally: Say
) -> None:
    room = f"dev-room-{secrets.token_hex(4)}"
    agent_identity = f"agent-{secrets.token_hex(3)}"
    avatar_identity = "runway-avatar-agent"
    agent = ScriptedAgent()
    await agent.join(
        livekit.url, room_token(livekit.api_key, livekit.api_secret, room, agent_identity)
    )
    speech, rate = say_naturally("The rings of Saturn are made of ice, dust and rock.")
    speech16 = resample(speech, rate, AGENT_RATE)
    try:
        token = room_token(
            livekit.api_key,
            livekit.api_secret,
            room,
            avatar_identity,
            on_behalf_of=agent_identity,
        )
        integration = {
            "type": "livekit",
            "url": livekit.url,
            "token": token,
            "roomName": room,
            "agentIdentity": agent_identity,
        }
        response = await in_thread(create, lk_api, lk_avatar, integration=integration)
        assert response.status_code == 200, response.text
        session_id = response.json()["id"]
        await in_thread(wait_status, lk_api, session_id, {"RUNNING"}, 60)
        consumed = await in_thread(
            lk_api.post,
            f"/v1/realtime_sessions/{session_id}/consume",
            headers={"Authorization": "Bearer x"},
        )
        assert consumed.status_code in (401, 409), consumed.text

        await agent.wait_for_avatar(20)
        from livekit import rtc

        assert agent.avatar.identity == avatar_identity
        assert agent.avatar.attributes.get("lk.publish_on_behalf") == agent_identity
        assert agent.video_source == rtc.TrackSource.SOURCE_CAMERA
        assert agent.audio_source == rtc.TrackSource.SOURCE_MICROPHONE

        # Silence first: the face idles, the voice is quiet.
        await asyncio.sleep(2.0)
        quiet_end = time.monotonic()
        silent = frames_between(agent, quiet_end - 1.5, quiet_end)
        assert len(silent) > 15, "video frames keep arriving"
        assert agent.loudness(quiet_end - 1.5, quiet_end) < 0.01

        # One utterance, heard whole: started, then finished, not interrupted.
        await agent.speak(speech16)
        started = (await agent.wait_playback("lk.playback_started", 1, 10))[0]
        finished = (await agent.wait_playback("lk.playback_finished", 1, 20))[0]
        duration = len(speech16) / AGENT_RATE
        assert finished.payload["interrupted"] is False
        assert abs(finished.payload["playback_position"] - duration) < 0.15
        assert finished.at - started.at > duration - 0.5, "finished once it was heard"
        talking = frames_between(agent, started.at + 0.3, finished.at - 0.3)
        assert agent.loudness(started.at + 0.3, finished.at - 0.3) > 0.02, "the voice is heard"
        still, moving = activity(silent), activity(talking)
        print(f"face activity: {moving:.1f} speaking, {still:.1f} silent")
        assert moving > 2 * still + 1.0, f"the mouth moves with the speech: {moving} vs {still}"

        # An interruption: the voice stops at once and the agent hears how much was heard.
        long_speech = np.concatenate([speech16, speech16])
        speaking = asyncio.ensure_future(agent.speak(long_speech, realtime=True))
        await agent.wait_playback("lk.playback_started", 2, 10)
        await asyncio.sleep(1.0)
        cleared_at = await agent.clear_buffer()
        interrupted = (await agent.wait_playback("lk.playback_finished", 2, 5))[1]
        speaking.cancel()  # the rest of the stream is not to be heard anyway
        with contextlib.suppress(asyncio.CancelledError):
            await speaking
        assert interrupted.payload["interrupted"] is True
        assert 0.5 < interrupted.payload["playback_position"] < len(long_speech) / AGENT_RATE
        await asyncio.sleep(1.0)
        loud = [at for at, pcm in agent.audio if at >= cleared_at and np.abs(pcm).max() > 0.02]
        last_loud = max(loud, default=cleared_at)
        print(f"voice after clear_buffer: {last_loud - cleared_at:.3f} s")
        assert last_loud - cleared_at < 0.3, f"voice went on {last_loud - cleared_at:.2f} s"

        deleted = await in_thread(lk_api.delete, f"/v1/realtime_sessions/{session_id}")
        assert deleted.status_code == 204
        await asyncio.wait_for(agent.avatar_left.wait(), 10)
        assert agent.room.isconnected(), "the developer's room stays"
        session = await in_thread(wait_status, lk_api, session_id, {"CANCELLED"})
        assert session["status"] == "CANCELLED"
    finally:
        await agent.leave()


async def test_the_agent_leaving_completes_and_a_refused_token_fails(
    livekit: LiveKitServer, lk_api: httpx.Client, lk_avatar: str
) -> None:
    room = f"dev-room-{secrets.token_hex(4)}"
    agent = ScriptedAgent()
    await agent.join(livekit.url, room_token(livekit.api_key, livekit.api_secret, room, "agent"))
    refused = {
        "url": livekit.url,
        "token": room_token(livekit.api_key, "not-the-secret" * 3, room, "avatar"),
        "roomName": room,
    }
    try:
        # The deprecated top-level field, as Runway's LiveKit plugin sends it.
        token = room_token(
            livekit.api_key, livekit.api_secret, room, "avatar", on_behalf_of="agent"
        )
        body = {"url": livekit.url, "token": token, "roomName": room, "agentIdentity": "agent"}
        response = await in_thread(create, lk_api, lk_avatar, livekit=body)
        assert response.status_code == 200, response.text
        session_id = response.json()["id"]
        failing = await in_thread(create, lk_api, lk_avatar, livekit=refused)
        assert failing.status_code == 200, failing.text
        # A private address that is not the deployment's own LiveKit server: never connected.
        private = {**refused, "url": "ws://10.255.255.1:7880", "token": token}
        probing = await in_thread(create, lk_api, lk_avatar, livekit=private)
        assert probing.status_code == 200, probing.text
        await in_thread(wait_status, lk_api, session_id, {"RUNNING"}, 60)
        await agent.wait_for_avatar(20)
    finally:
        await agent.leave()
    session = await in_thread(wait_status, lk_api, session_id, {"COMPLETED"})
    assert session["duration"] >= 0
    failed = await in_thread(wait_status, lk_api, failing.json()["id"], {"FAILED"}, 60)
    assert failed["failureCode"] == "LIVEKIT_JOIN_FAILED"
    assert "refused" in failed["failure"]
    probed = await in_thread(wait_status, lk_api, probing.json()["id"], {"FAILED"}, 60)
    assert probed["failureCode"] == "LIVEKIT_JOIN_FAILED"
    assert "'10.255.255.1' is not a public address" in probed["failure"], probed


async def test_the_example_agent_gets_its_face(
    livekit: LiveKitServer,
    lk_server: Server,
    lk_avatar: str,
    say_naturally: Say,
    tmp_path: Path,
) -> None:
    """examples/livekit_agent_avatar.py, as docs/livekit.md tells to run it."""
    speech, rate = say_naturally("Hello from my own agent.")
    wav = tmp_path / "hello.wav"
    wav.write_bytes(wav_bytes(speech, rate))
    command = [
        sys.executable,
        str(ROOT / "examples" / "livekit_agent_avatar.py"),
        *("--server", lk_server.base_url, "--api-key", API_KEY, "--avatar", lk_avatar),
        *("--livekit-url", livekit.url, "--livekit-key", livekit.api_key),
        f"--livekit-secret={livekit.api_secret}",  # a secret may start with "-"
        *("--wav", str(wav)),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode()
    assert process.returncode == 0, text
    assert "'interrupted': False" in text, text
    assert re.search(r"^session \S+: COMPLETED$", text, re.MULTILINE), text
