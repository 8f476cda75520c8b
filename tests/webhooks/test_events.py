"""The events a real server sends: a whole call (through WebRTC, with the real models) and the
background work on avatars, voices and avatar videos, each verified by the receiver with the
Standard Webhooks library and seen once per id, in order per session."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from opencharacters.client.call import Caller
from tests.support.http import api, ready_avatar, wait_for
from tests.support.media import data_uri, noise_png
from tests.support.server import API_KEY, Server
from tests.support.webhook_receiver import Received, Receiver
from tests.webhooks.conftest import register

# Which events a call and the media jobs raise; the outbox itself: test_delivery.py, both stores.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.one_database]


def silent_wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def events_about(receiver: Receiver, subject_id: str) -> list[Received]:
    return [r for r in receiver.delivered() if r.payload["data"].get("id") == subject_id]


def settle(http: httpx.Client, path: str, key: str = "status") -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: http.get(path).json(),
            lambda body: body[key] not in ("PROCESSING", "PENDING", "THROTTLED", "RUNNING"),
            timeout=240,
            interval=0.5,
        )
    )


async def test_a_whole_call_arrives_once_per_id_and_in_order(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server()
    with api(server) as http:
        register(http, receiver)
        avatar = ready_avatar(http, startScript="Hi, I'm Ada.")
    assert avatar["status"] == "READY"
    async with Caller(server.base_url, API_KEY, avatar["id"]) as call:
        await call.wait_for_state("speaking", 120)
        await call.wait_until_listening(60)
    session_id = call.session_id
    assert session_id is not None
    expected = [
        "session.ready",
        "session.running",
        "session.completed",
        "conversation.ready",
        "conversation.recording_ready",
    ]
    receiver.wait_for(lambda r: len(events_about(r, session_id)) >= len(expected), 60)
    with api(server) as http:  # a cancelled session reports that too
        cancelled_id = http.post(
            "/v1/realtime_sessions",
            json={"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}},
        ).json()["id"]
        wait_for(
            lambda: http.get(f"/v1/realtime_sessions/{cancelled_id}").json(),
            lambda s: s["status"] == "READY",
        )
        assert http.delete(f"/v1/realtime_sessions/{cancelled_id}").status_code == 204
    receiver.wait_for(lambda r: len(events_about(r, cancelled_id)) >= 2, 30)

    assert receiver.rejected == [], "every request verified"
    ids = [r.id for r in receiver.requests]
    assert len(ids) == len(set(ids)), "each event id once"
    about_call = events_about(receiver, session_id)
    assert [r.type for r in about_call] == expected
    completed = about_call[2].payload["data"]
    assert completed["status"] == "COMPLETED" and completed["duration"] >= 0
    assert "sessionKey" not in about_call[0].payload["data"], "no secrets in events"
    transcript = about_call[3].payload["data"]["transcript"]
    assert transcript[0] == {**transcript[0], "role": "assistant", "content": "Hi, I'm Ada."}
    assert [r.type for r in events_about(receiver, cancelled_id)] == [
        "session.ready",
        "session.cancelled",
    ]
    assert [r.type for r in events_about(receiver, avatar["id"])] == ["avatar.ready"]


def test_avatars_voices_and_videos_report_ready_and_failed(
    make_server: Callable[..., Server], receiver: Receiver
) -> None:
    server = make_server()
    with api(server) as http:
        register(http, receiver)
        faceless = ready_avatar(http, referenceImage=data_uri(noise_png(400, 400), "image/png"))
        assert faceless["status"] == "FAILED"
        avatar = ready_avatar(http)
        designed = http.post(
            "/v1/voices",
            json={
                "name": "Narrator",
                "from": {
                    "type": "text",
                    "prompt": "A warm, slow, deep older male voice with a calm manner",
                    "model": "eleven_ttv_v3",
                },
            },
        ).json()["id"]
        silence = data_uri(silent_wav(12.0), "audio/wav")  # only listening tells: FAILS later
        broken = http.post(
            "/v1/voices", json={"name": "Bad", "from": {"type": "audio", "audio": silence}}
        ).json()["id"]
        video = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}}
        spoken = http.post(
            "/v1/avatar_videos", json={**video, "speech": {"type": "text", "text": "Hello."}}
        ).json()["id"]
        failing = http.post(
            "/v1/avatar_videos",
            json={**video, "speech": {"type": "audio", "audio": data_uri(b"nope", "audio/wav")}},
        ).json()["id"]
        assert settle(http, f"/v1/voices/{designed}")["status"] == "READY"
        assert settle(http, f"/v1/voices/{broken}")["status"] == "FAILED"
        assert settle(http, f"/v1/tasks/{spoken}")["status"] == "SUCCEEDED"
        assert settle(http, f"/v1/tasks/{failing}")["status"] == "FAILED"
    expected = {
        faceless["id"]: ["avatar.failed"],
        avatar["id"]: ["avatar.ready"],
        designed: ["voice.ready"],
        broken: ["voice.failed"],
        spoken: ["task.succeeded"],
        failing: ["task.failed"],
    }
    receiver.wait_for(lambda r: all(len(events_about(r, subject)) >= 1 for subject in expected), 60)
    assert receiver.rejected == []
    for subject, types in expected.items():
        assert [r.type for r in events_about(receiver, subject)] == types
    failed_task = events_about(receiver, failing)[0].payload["data"]
    assert failed_task["failureCode"] == "INPUT_INVALID" and failed_task["failure"]
    assert "failureReason" in events_about(receiver, faceless["id"])[0].payload["data"]
