"""Extension: preset voices with signed preview URLs, through the real server and real TTS."""

from __future__ import annotations

import io
import wave

import httpx
import pytest

from opencharacters.domain.voices import PRESET_IDS
from tests.support.http import api, error_of
from tests.support.server import Server

pytestmark = pytest.mark.integration


@pytest.mark.one_database
def test_presets_list_and_preview_audio(server: Server) -> None:
    with api(server) as http:
        listed = http.get("/v1/voice_presets").json()["data"]
    assert [v["id"] for v in listed] == list(PRESET_IDS)
    clara = next(v for v in listed if v["id"] == "clara")
    assert (clara["name"], clara["description"], clara["gender"]) == (
        "Clara",
        "Soft, approachable",
        "female",
    )

    response = httpx.get(
        clara["previewUrl"], headers={"Origin": "https://app.example"}, timeout=120
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["access-control-allow-origin"] == "*"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getsampwidth() == 2 and audio.getnchannels() == 1
        assert audio.getnframes() / audio.getframerate() > 1.0

    tampered = httpx.get(clara["previewUrl"].replace("clara", "victoria"))
    assert tampered.status_code == 403 and "expired" in error_of(tampered)
    unknown = httpx.get(f"{server.base_url}/v1/voice_presets/bob/preview?expires=1&signature=x")
    assert unknown.status_code == 404
    assert httpx.get(f"{server.base_url}/v1/voice_presets").status_code == 401
