"""Custom voices through the real server (SQLite and PostgreSQL): design from a description,
clone from a sample, previews, every limit of the voices endpoints, use by avatars and videos.

The server parses descriptions with the keyword rules (the dialogue-model parser is tested in
tests/speech/test_voice_custom.py) so that these tests stay quick."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Iterator
from typing import Any

import av
import httpx
import numpy as np
import pytest
from runwayml import RunwayML

from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.media import data_uri
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

PROMPT = "A warm, slow, deep older male voice with a calm manner"
SPEECH_TEXT = (
    "Please call Stella. Ask her to bring these things with her from the store: six spoons of "
    "fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob. "
    "We also need a small plastic snake and a big toy frog for the kids."
)


@pytest.fixture(scope="module")
def server(make_server: Any) -> Iterator[Server]:
    yield make_server(OPENCHARACTERS_ENGINES__VOICES__PROMPT_PARSER="rules")


@pytest.fixture
def client(server: Server) -> RunwayML:
    return RunwayML(base_url=server.base_url, api_key=API_KEY, max_retries=0)


def wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    """About 12 s of the `skye` preset speaking, with a pause: a sample to clone."""
    from opencharacters.engine_settings import EngineSettings
    from opencharacters.speech.engines import shared_synthesizer

    synthesizer = shared_synthesizer(EngineSettings())
    audio = synthesizer.synthesize_text(SPEECH_TEXT, "skye")
    pause = np.zeros(synthesizer.sample_rate // 2, dtype=np.float32)
    return wav(np.concatenate([audio, pause]), synthesizer.sample_rate)


def create(http: httpx.Client, **body: Any) -> str:
    response = http.post("/v1/voices", json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id"}
    return str(response.json()["id"])


def settle(http: httpx.Client, voice_id: str, timeout: float = 240) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: http.get(f"/v1/voices/{voice_id}").json(),
            lambda v: v["status"] != "PROCESSING",
            timeout=timeout,
            interval=0.5,
        )
    )


def text_source(prompt: str = PROMPT, model: str = "eleven_ttv_v3") -> dict[str, str]:
    return {"type": "text", "prompt": prompt, "model": model}


@pytest.mark.one_database
def test_designed_voice_becomes_ready_with_a_preview(client: RunwayML, server: Server) -> None:
    created = client.voices.create(name="Narrator", description="for stories", from_=text_source())
    first = client.voices.retrieve(created.id)
    assert first.status in ("PROCESSING", "READY")
    with api(server) as http:
        body = settle(http, created.id)
    assert body["status"] == "READY", body
    assert set(body) == {"id", "name", "description", "createdAt", "status", "previewUrl"}
    ready = client.voices.retrieve(created.id)
    assert ready.status == "READY" and ready.name == "Narrator"
    assert ready.description == "for stories"
    audio = httpx.get(body["previewUrl"], timeout=60)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    with av.open(io.BytesIO(audio.content)) as container:
        assert container.format.name == "mp3"
        assert 2.0 < float(container.duration or 0) / 1e6 < 15.0
    listed = [v.id for v in client.voices.list(limit=100)]
    assert created.id in listed


def test_preview_returns_a_signed_url_and_duration(client: RunwayML, server: Server) -> None:
    preview = client.voices.preview(model="eleven_multilingual_ttv_v2", prompt=PROMPT)
    assert 2.0 < preview.duration_secs < 15.0
    audio = httpx.get(preview.url, timeout=60)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    again = client.voices.preview(model="eleven_ttv_v3", prompt=PROMPT)
    assert again.duration_secs == preview.duration_secs  # same description, same voice
    other = client.voices.preview(
        model="eleven_ttv_v3", prompt="A bright, fast, high-pitched young woman's voice"
    )
    assert other.url.split("?")[0] != preview.url.split("?")[0]
    tampered = httpx.get(preview.url.replace("signature=", "signature=0"))
    assert tampered.status_code == 403
    # Extension: what the description was read as, for the portal to show.
    with api(server) as http:
        read = http.post(
            "/v1/voices/preview",
            json={
                "prompt": "A bright, fast, high-pitched young woman's voice",
                "model": "eleven_ttv_v3",
            },
        ).json()
    assert read["attributes"]["gender"] == "female" and read["attributes"]["pace"] != "medium"


@pytest.mark.one_database
def test_cloned_voice_from_a_data_uri(server: Server, speech_wav: bytes) -> None:
    with api(server) as http:
        voice_id = create(
            http,
            name="Clone",
            **{"from": {"type": "audio", "audio": data_uri(speech_wav, "audio/wav")}},
        )
        body = settle(http, voice_id)
    assert body["status"] == "READY", body
    assert httpx.get(body["previewUrl"], timeout=60).status_code == 200


@pytest.mark.one_database
def test_cloned_voice_from_an_upload(server: Server, speech_wav: bytes) -> None:
    with api(server) as http:
        upload = http.post("/v1/uploads", json={"filename": "sample.wav", "type": "ephemeral"})
        assert upload.status_code == 200, upload.text
        info = upload.json()
        posted = httpx.post(
            info["uploadUrl"], data=info["fields"], files={"file": ("sample.wav", speech_wav)}
        )
        assert posted.status_code in (200, 201, 204), posted.text
        voice_id = create(
            http, name="Upload clone", **{"from": {"type": "audio", "audio": info["runwayUri"]}}
        )
        body = settle(http, voice_id)
    assert body["status"] == "READY", body


def tone(seconds: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.asarray(0.3 * np.sin(2 * np.pi * 220 * t), dtype=np.float32)


def music(seconds: float, rate: int = 16_000) -> np.ndarray:
    """Chords changing every half second, with a steady beat: no speech in it."""
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros_like(t)
    roots = [220.0, 261.6, 329.6, 392.0]
    for i, start in enumerate(np.arange(0, seconds, 0.5)):
        part = (t >= start) & (t < start + 0.5)
        root = roots[i % 4]
        for ratio in (1.0, 1.26, 1.5, 2.0):
            out[part] += np.sin(2 * np.pi * root * ratio * t[part])
        beat = np.exp(-((t[part] - start) * 30))
        out[part] += beat * np.sin(2 * np.pi * 60 * t[part]) * 2
    return np.asarray(0.1 * out, dtype=np.float32)


@pytest.mark.parametrize(
    ("samples", "reason"),
    [
        (np.zeros(16_000 * 12, dtype=np.float32), "silent"),
        (music(14.0), "music"),
        (tone(9.9), "must be 10 s to 5 min"),
        (tone(300.5), "must be 10 s to 5 min"),
        (tone(300.5, 8000), "must be 10 s to 5 min"),
    ],
    ids=["silence", "music", "9.9s", "300.5s", "300.5s-mp3"],
)
# A length outside 10 s-5 min is known as soon as the bytes are: refused at once with a 400
# (a data: URI or an upload); what only listening tells (silence, music) FAILS later.
def test_unusable_samples_fail_with_a_reason(
    server: Server, samples: np.ndarray, reason: str
) -> None:
    if len(samples) == 300.5 * 8000:  # MP3, through PyAV: 300 s of WAV is over 5 MB
        from opencharacters.speech.previews import mp3_bytes

        uri = data_uri(mp3_bytes(samples, 8000), "audio/mpeg")
    elif len(samples) > 16_000 * 200:  # the WAV goes through an upload instead
        uri = ""
    else:
        uri = data_uri(wav(samples, 16_000), "audio/wav")
    with api(server) as http:
        if not uri:
            upload = http.post("/v1/uploads", json={"filename": "long.wav"}).json()
            files = {"file": ("long.wav", wav(samples, 16_000))}
            httpx.post(upload["uploadUrl"], data=upload["fields"], files=files)
            uri = upload["runwayUri"]
        if "10 s to 5 min" in reason:
            refused = http.post(
                "/v1/voices", json={"name": "Bad", "from": {"type": "audio", "audio": uri}}
            )
            assert refused.status_code == 400, refused.text
            assert error_of(refused).startswith("from.audio: The audio is "), refused.text
            assert reason in error_of(refused)
            return
        voice_id = create(http, name="Bad", **{"from": {"type": "audio", "audio": uri}})
        body = settle(http, voice_id)
    assert body["status"] == "FAILED"
    assert set(body) == {"id", "name", "description", "createdAt", "status", "failureReason"}
    assert reason in body["failureReason"], body["failureReason"]


def test_too_little_speech_fails(server: Server, speech_wav: bytes) -> None:
    with wave.open(io.BytesIO(speech_wav)) as source:
        rate = source.getframerate()
        pcm = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    short = pcm[: int(rate * 3.5)].astype(np.float32) / 32768  # 3.5 s of speech ...
    padded = np.concatenate([short, np.zeros(rate * 9, dtype=np.float32)])  # ... in 12.5 s
    with api(server) as http:
        voice_id = create(
            http,
            name="Short",
            **{"from": {"type": "audio", "audio": data_uri(wav(padded, rate), "audio/wav")}},
        )
        body = settle(http, voice_id)
    assert body["status"] == "FAILED"
    assert "at least 5 s" in body["failureReason"], body["failureReason"]


def test_undecodable_sample_is_refused(server: Server) -> None:
    with api(server) as http:
        refused = http.post(
            "/v1/voices",
            json={
                "name": "Garbage",
                "from": {
                    "type": "audio",
                    "audio": data_uri(b"not audio at all" * 100, "audio/mpeg"),
                },
            },
        )
    assert refused.status_code == 400, refused.text
    assert "from.audio" in error_of(refused) and "could not be decoded" in error_of(refused)


def _body(name: Any = "V", **extra: Any) -> dict[str, Any]:
    return {"name": name, "from": text_source(), **extra}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body(""), "name: must be at least 1 characters"),
        (_body("x" * 101), "name: must be at most 100 characters (got 101)"),
        (_body(description=""), "description: must be at least 1 characters"),
        (_body(description="d" * 1025), "description: must be at most 1024 characters (got 1025)"),
        ({"name": "V", "from": text_source("p" * 19)}, "from.prompt: must be at least 20"),
        ({"name": "V", "from": text_source("p" * 1001)}, "from.prompt: must be at most 1000"),
        ({"name": "V", "from": text_source(model="eleven_v2")}, "from.model: must be"),
        ({"name": "V", "from": {"type": "text", "prompt": PROMPT}}, "from.model is required"),
        ({"name": "V", "from": {"type": "video", "prompt": PROMPT}}, "from: type must be"),
        ({"name": "V"}, "from is required"),
        ({"from": text_source()}, "name is required"),
        (_body(extra=1), 'Unrecognized key: "extra"'),
        ({"name": "V", "from": {**text_source(), "seed": 1}}, 'Unrecognized key: "seed"'),
        ({"name": "V", "from": {"type": "audio", "audio": "ftp://x/y.wav"}}, "from.audio: must be"),
        (
            {"name": "V", "from": {"type": "audio", "audio": "https://e.co"}},
            "from.audio: an https:// URL must be 13 to 2048 characters",
        ),
        (
            {"name": "V", "from": {"type": "audio", "audio": "https://e.com/" + "a" * 2035}},
            "from.audio: an https:// URL must be 13 to 2048 characters",
        ),
        (
            {"name": "V", "from": {"type": "audio", "audio": "data:audio/wav;base64,"}},
            "from.audio: the data URI is empty",
        ),
        (
            {
                "name": "V",
                "from": {"type": "audio", "audio": "data:audio/wav;base64," + "A" * 5_242_860},
            },
            "from.audio: a data URI may be at most 5242880 characters long (got 5242882)",
        ),
        (
            {"name": "V", "from": {"type": "audio", "audio": "runway://uploads/" + "0" * 36}},
            "from.audio: no upload found",
        ),
    ],
)
def test_create_limits(server: Server, body: dict[str, Any], message: str) -> None:
    with api(server) as http:
        response = http.post("/v1/voices", json=body)
    assert response.status_code == 400, response.text
    assert message in error_of(response)


def test_limits_accept_their_edges(server: Server) -> None:
    with api(server) as http:
        for body in (
            _body("x"),
            _body("x" * 100, description="d" * 1024),
            _body(description="d"),
            {"name": "V", "from": text_source("p" * 20)},
            {"name": "V", "from": text_source("a deep male voice " + "p" * 982)},
            _body(description=None),
        ):
            response = http.post("/v1/voices", json=body)
            assert response.status_code == 200, (body, response.text)
        https = {"name": "V", "from": {"type": "audio", "audio": "https://e.com/" + "a" * 2034}}
        assert http.post("/v1/voices", json=https).status_code == 200


def test_sample_over_10_mb_is_refused(server: Server) -> None:
    big = b"\x00" * (10 * 1024 * 1024 + 1)
    with api(server) as http:
        upload = http.post("/v1/uploads", json={"filename": "big.wav"}).json()
        posted = httpx.post(upload["uploadUrl"], data=upload["fields"], files={"file": big})
        assert posted.status_code in (200, 201, 204)
        response = http.post(
            "/v1/voices",
            json={"name": "V", "from": {"type": "audio", "audio": upload["runwayUri"]}},
        )
    assert response.status_code == 400
    assert "10485761 bytes; a cloning sample may be at most 10485760 bytes" in error_of(response)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "p" * 19, "model": "eleven_ttv_v3"}, "prompt: must be at least 20"),
        ({"prompt": "p" * 1001, "model": "eleven_ttv_v3"}, "prompt: must be at most 1000"),
        ({"prompt": PROMPT}, "model is required"),
        ({"prompt": PROMPT, "model": "x"}, "model: must be"),
        ({"model": "eleven_ttv_v3"}, "prompt is required"),
        ({"prompt": PROMPT, "model": "eleven_ttv_v3", "name": "x"}, 'Unrecognized key: "name"'),
    ],
)
def test_preview_limits(server: Server, body: dict[str, Any], message: str) -> None:
    with api(server) as http:
        response = http.post("/v1/voices/preview", json=body)
    assert response.status_code == 400, response.text
    assert message in error_of(response)


def test_list_limits_update_and_delete(server: Server) -> None:
    with api(server) as http:
        ids = [create(http, **_body(f"Page {i}")) for i in range(3)]
        for limit in (0, 101):
            response = http.get("/v1/voices", params={"limit": limit})
            assert response.status_code == 400 and "limit" in error_of(response)
        assert http.get("/v1/voices", params={"cursor": ""}).status_code == 400
        assert http.get("/v1/voices", params={"cursor": "x" * 1001}).status_code == 400
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/v1/voices", params=params).json()
            assert set(page) == {"data", "hasMore", "nextCursor"}
            seen += [v["id"] for v in page["data"]]
            cursor = page["nextCursor"]
            if not cursor:
                break
        assert set(ids) <= set(seen) and len(seen) == len(set(seen))
        assert http.get("/v1/voices", params={"limit": 100}).status_code == 200

        target = ids[0]
        renamed = http.patch(f"/v1/voices/{target}", json={"name": "Renamed"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
        described = http.patch(f"/v1/voices/{target}", json={"description": "new"}).json()
        assert described["description"] == "new" and described["name"] == "Renamed"
        cleared = http.patch(f"/v1/voices/{target}", json={"description": None}).json()
        assert cleared["description"] is None
        for body, message in (
            ({}, "at least one"),
            ({"name": None}, "name cannot be null"),
            ({"name": ""}, "name: must be at least 1"),
            ({"name": "x" * 101}, "name: must be at most 100"),
            ({"description": "d" * 1025}, "description: must be at most 1024"),
            ({"status": "READY"}, 'Unrecognized key: "status"'),
        ):
            response = http.patch(f"/v1/voices/{target}", json=body)
            assert response.status_code == 400 and message in error_of(response), body
        assert http.patch(f"/v1/voices/{target}", json={"name": "x" * 100}).status_code == 200

        assert http.delete(f"/v1/voices/{target}").status_code == 204
        gone = http.get(f"/v1/voices/{target}")
        assert gone.status_code == 404 and target in error_of(gone)
        assert http.delete(f"/v1/voices/{target}").status_code == 404
        assert http.patch(f"/v1/voices/{target}", json={"name": "x"}).status_code == 404
        assert target not in [v["id"] for v in http.get("/v1/voices?limit=100").json()["data"]]
        assert http.get("/v1/voices/not-a-uuid").status_code == 400
        assert http.get(f"/v1/voices/{uuid.uuid4()}").status_code == 404


def test_voices_belong_to_their_organization(server: Server) -> None:
    from tests.api.test_auth_and_isolation import new_key

    key = new_key(server, "other-voices")
    with api(server) as mine, api(server, key) as theirs:
        voice_id = create(mine, **_body("Mine"))
        assert theirs.get(f"/v1/voices/{voice_id}").status_code == 404
        assert theirs.delete(f"/v1/voices/{voice_id}").status_code == 404
        assert voice_id not in [v["id"] for v in theirs.get("/v1/voices").json()["data"]]
        refused = theirs.post(
            "/v1/avatars",
            json={
                "name": "A",
                "referenceImage": "https://example.com/a.png",
                "personality": "p",
                "voice": {"type": "custom", "id": voice_id},
            },
        )
        assert refused.status_code == 400 and "voice.id" in error_of(refused)


def test_avatars_use_custom_voices_and_survive_their_deletion(server: Server) -> None:
    with api(server) as http:
        pending = create(http, **_body("Pending"))
        ready_id = create(http, name="Avatar voice", description="deep", **{"from": text_source()})
        first = http.get(f"/v1/voices/{pending}").json()
        if first["status"] == "PROCESSING":
            refused = http.post(
                "/v1/avatars",
                json={
                    "name": "A",
                    "referenceImage": "https://example.com/a.png",
                    "personality": "p",
                    "voice": {"type": "custom", "id": pending},
                },
            )
            assert refused.status_code == 400 and "only READY voices" in error_of(refused)
        assert settle(http, ready_id)["status"] == "READY"

        avatar = ready_avatar(http, voice={"type": "custom", "id": ready_id})
        assert avatar["status"] == "READY", avatar
        assert avatar["voice"] == {
            "type": "custom",
            "id": ready_id,
            "deleted": False,
            "name": "Avatar voice",
            "description": "deep",
        }
        listed = http.get("/v1/avatars").json()["data"]
        assert next(a for a in listed if a["id"] == avatar["id"])["voice"]["deleted"] is False

        video = http.post(
            "/v1/avatar_videos",
            json={
                "model": "gwm1_avatars",
                "avatar": {"type": "custom", "avatarId": avatar["id"]},
                "speech": {"type": "text", "text": "Hello there."},
            },
        )
        assert video.status_code == 200, video.text

        assert http.delete(f"/v1/voices/{ready_id}").status_code == 204
        after = http.get(f"/v1/avatars/{avatar['id']}").json()
        assert after["voice"] == {"type": "custom", "id": ready_id, "deleted": True}
        renamed = http.patch(f"/v1/avatars/{avatar['id']}", json={"name": "Still works"})
        assert renamed.status_code == 200 and renamed.json()["voice"]["deleted"] is True

        fallback = http.post(
            "/v1/avatar_videos",
            json={
                "model": "gwm1_avatars",
                "avatar": {"type": "custom", "avatarId": avatar["id"]},
                "speech": {"type": "text", "text": "Still talking."},
            },
        )
        assert fallback.status_code == 200, fallback.text
        for task_id in (video.json()["id"], fallback.json()["id"]):
            task = wait_for(
                lambda task_id=task_id: http.get(f"/v1/tasks/{task_id}").json(),
                lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
                timeout=180,
                interval=0.5,
            )
            assert task["status"] == "SUCCEEDED", task
        gone_voice = http.post(
            "/v1/avatar_videos",
            json={
                "model": "gwm1_avatars",
                "avatar": {"type": "custom", "avatarId": avatar["id"]},
                "speech": {
                    "type": "text",
                    "text": "x",
                    "voice": {"type": "custom", "id": ready_id},
                },
            },
        )
        assert gone_voice.status_code == 400 and "speech.voice.id" in error_of(gone_voice)
