"""The OpenAI-compatible transcription backend against a local fake server speaking the real
wire format (multipart/form-data in, JSON out)."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from opencharacters.engine_settings import AsrSettings
from opencharacters.speech.asr_openai import OpenAIRecognizer, OpenAITranscriptionError

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def transcriptions(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer sk-test":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        with wave.open(io.BytesIO(upload.file.read())) as wav:
            received.append(
                {
                    "model": form["model"],
                    "language": form["language"],
                    "rate": wav.getframerate(),
                    "frames": wav.getnframes(),
                    "width": wav.getsampwidth(),
                }
            )
        return web.json_response({"text": " Hello from the fake. "})

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", received
    await runner.cleanup()


async def test_sends_wav_and_returns_text(fake_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = fake_server
    settings = AsrSettings(
        backend="openai", openai_base_url=url, openai_api_key="sk-test", language="fr"
    )
    transcript = await OpenAIRecognizer(settings).transcribe(np.zeros(8000, np.float32), 16_000)
    assert transcript.text == "Hello from the fake."
    assert received == [
        {"model": "whisper-1", "language": "fr", "rate": 16_000, "frames": 8000, "width": 2}
    ]


async def test_server_errors_are_raised(fake_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = fake_server
    settings = AsrSettings(backend="openai", openai_base_url=url, openai_api_key="wrong")
    with pytest.raises(OpenAITranscriptionError, match="401"):
        await OpenAIRecognizer(settings).transcribe(np.zeros(160, np.float32), 16_000)
