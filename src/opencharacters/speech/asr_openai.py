"""Speech recognition through any OpenAI-compatible `POST /audio/transcriptions` server
(OpenAI, faster-whisper-server, vLLM, LocalAI...)."""

from __future__ import annotations

import time

import aiohttp

from opencharacters.engine_settings import AsrSettings
from opencharacters.media.audio import Samples, wav_bytes
from opencharacters.speech.asr import Transcript


class OpenAITranscriptionError(RuntimeError):
    pass


class OpenAIRecognizer:
    def __init__(self, settings: AsrSettings) -> None:
        self._settings = settings

    async def transcribe(self, samples: Samples, sample_rate: int) -> Transcript:
        started = time.perf_counter()
        form = aiohttp.FormData()
        form.add_field(
            "file", wav_bytes(samples, sample_rate), filename="audio.wav", content_type="audio/wav"
        )
        form.add_field("model", self._settings.openai_model)
        form.add_field("language", self._settings.language)
        form.add_field("response_format", "json")
        headers = {}
        if self._settings.openai_api_key:
            headers["Authorization"] = f"Bearer {self._settings.openai_api_key}"
        url = self._settings.openai_base_url.rstrip("/") + "/audio/transcriptions"
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, data=form, headers=headers) as response,
        ):
            if response.status != 200:
                body = await response.text()
                raise OpenAITranscriptionError(f"{url} answered {response.status}: {body[:300]}")
            payload = await response.json()
        return Transcript(
            text=str(payload.get("text", "")).strip(),
            language=self._settings.language,
            audio_s=len(samples) / sample_rate,
            decode_s=time.perf_counter() - started,
        )
