"""Avatar videos: a task renders the avatar speaking text (preset TTS) or given audio to MP4."""

from __future__ import annotations

import io
import wave

import av
import httpx
import numpy as np
import pytest
from runwayml import RunwayML

from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.media import data_uri
from tests.support.server import Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def avatar_id(server: Server) -> str:
    with api(server) as http:
        return str(ready_avatar(http)["id"])


def tone_wav(seconds: float, rate: int = 16_000) -> bytes:
    """Syllable-like bursts: something for the mouth to follow."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    samples = (0.4 * envelope * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def video_facts(url: str) -> tuple[int, int, int, float, bool]:
    data = httpx.get(url, timeout=60).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        has_audio = bool(container.streams.audio)
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = float(container.duration or 0) / 1_000_000
    return frames, width, height, duration, has_audio


@pytest.mark.one_database
def test_text_becomes_a_talking_video(client: RunwayML, server: Server, avatar_id: str) -> None:
    created = client.avatar_videos.create(
        model="gwm1_avatars",
        avatar={"type": "custom", "avatar_id": avatar_id},
        speech={
            "type": "text",
            "text": "Hello! Thanks for calling.",
            "voice": {"type": "preset", "preset_id": "vincent"},
        },
    )
    task = wait_for(
        lambda: client.tasks.retrieve(created.id),
        lambda t: t.status in ("SUCCEEDED", "FAILED"),
        timeout=120,
    )
    assert task.status == "SUCCEEDED", task
    assert task.cost.credits == 0
    frames, width, height, duration, has_audio = video_facts(task.output[0])
    assert (width, height) == (1088, 704)
    assert has_audio
    assert 1.0 < duration < 5.0
    assert abs(frames - round(duration * 25)) <= 2


def test_audio_drives_the_face_for_exactly_its_length(server: Server, avatar_id: str) -> None:
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        "speech": {"type": "audio", "audio": data_uri(tone_wav(2.0), "audio/wav")},
    }
    with api(server) as http:
        task_id = http.post("/v1/avatar_videos", json=body).json()["id"]
        task = wait_for(
            lambda: http.get(f"/v1/tasks/{task_id}").json(),
            lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
            timeout=120,
        )
        assert task["status"] == "SUCCEEDED", task
        frames, *_ = video_facts(task["output"][0])
        assert frames == 50
        # Deleting a finished task removes it and its video.
        assert http.delete(f"/v1/tasks/{task_id}").status_code == 204
        assert http.get(f"/v1/tasks/{task_id}").status_code == 404
        assert httpx.get(task["output"][0]).status_code == 404


def test_undecodable_audio_fails_the_task(server: Server, avatar_id: str) -> None:
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        "speech": {"type": "audio", "audio": data_uri(b"not audio at all", "audio/wav")},
    }
    with api(server) as http:
        task_id = http.post("/v1/avatar_videos", json=body).json()["id"]
        task = wait_for(
            lambda: http.get(f"/v1/tasks/{task_id}").json(),
            lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
            timeout=60,
        )
    assert task["status"] == "FAILED"
    assert task["failureCode"] == "INPUT_INVALID"
    assert "could not be decoded" in task["failure"]


@pytest.mark.parametrize(
    ("speech", "avatar", "mentions"),
    [
        ({"type": "text", "text": "x" * 5001}, None, "speech.text: must be at most 5000"),
        ({"type": "text", "text": ""}, None, "speech.text"),
        (
            {"type": "text", "text": "hi", "voice": {"type": "preset", "presetId": "bob"}},
            None,
            "unknown preset voice",
        ),
        (
            {
                "type": "text",
                "text": "hi",
                "voice": {"type": "custom", "id": "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"},
            },
            None,
            "speech.voice.id",
        ),
        ({"type": "audio", "audio": "http://example.com/a.wav"}, None, "speech.audio"),
        ({"type": "audio", "audio": "data:image/png;base64,AAAA"}, None, "data:audio"),
        (
            {"type": "text", "text": "hi"},
            {"type": "runway-preset", "presetId": "dog-character"},
            "avatar.presetId",
        ),
        (
            {"type": "text", "text": "hi"},
            {"type": "custom", "avatarId": "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"},
            "avatar.avatarId",
        ),
    ],
)
def test_bad_requests(
    server: Server, avatar_id: str, speech: dict, avatar: dict | None, mentions: str
) -> None:
    body = {
        "model": "gwm1_avatars",
        "avatar": avatar or {"type": "custom", "avatarId": avatar_id},
        "speech": speech,
    }
    with api(server) as http:
        response = http.post("/v1/avatar_videos", json=body)
    assert response.status_code == 400, response.text
    assert mentions in error_of(response)


def test_unknown_tasks(server: Server) -> None:
    with api(server) as http:
        assert http.get("/v1/tasks/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f").status_code == 404
        assert http.delete("/v1/tasks/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f").status_code == 404
        assert http.get("/v1/tasks/nope").status_code == 400


def test_pending_tasks_can_be_cancelled(server: Server, avatar_id: str) -> None:
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        "speech": {"type": "audio", "audio": data_uri(tone_wav(3.0), "audio/wav")},
    }
    with api(server) as http:
        # Tasks render one at a time, so the last of three is still waiting when cancelled.
        ids = [http.post("/v1/avatar_videos", json=body).json()["id"] for _ in range(3)]
        assert http.delete(f"/v1/tasks/{ids[-1]}").status_code == 204
        cancelled = http.get(f"/v1/tasks/{ids[-1]}").json()
        assert cancelled["status"] == "CANCELLED" and cancelled["cost"] == {"credits": 0}
        assert "output" not in cancelled
        for task_id in ids[:-1]:
            done = wait_for(
                lambda t=task_id: http.get(f"/v1/tasks/{t}").json(),
                lambda t: t["status"] not in ("PENDING", "RUNNING"),
                timeout=120,
            )
            assert done["status"] == "SUCCEEDED"
        assert http.get(f"/v1/tasks/{ids[-1]}").json()["status"] == "CANCELLED"


def test_audio_longer_than_five_minutes_fails_the_task(
    client: RunwayML, server: Server, avatar_id: str
) -> None:
    # 301 s at 8 kHz is too big for a data URI, so it goes through an upload as users would.
    uploaded = client.uploads.create_ephemeral(file=("long.wav", tone_wav(301.0, rate=8000)))
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        "speech": {"type": "audio", "audio": uploaded.uri},
    }
    with api(server) as http:
        task_id = http.post("/v1/avatar_videos", json=body).json()["id"]
        task = wait_for(
            lambda: http.get(f"/v1/tasks/{task_id}").json(),
            lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
            timeout=120,
        )
    assert task["status"] == "FAILED"
    assert "301 s long; the limit is 300 s" in task["failure"]
