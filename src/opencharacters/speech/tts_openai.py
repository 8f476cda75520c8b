"""Speech from an OpenAI-compatible server: `POST {base}/audio/speech`, the audio streamed back.

Each text chunk is one request; audio is handed on as it arrives (a first piece of 0.15 s, then
0.4 s pieces), so the avatar starts speaking before the server has finished the sentence. Such
servers return no phoneme timings: mouth shapes are estimated from the audio itself
(speech/audio_visemes.py).

Voices: a preset id maps to the server's voice through engines.tts.openai_voices (else
openai_voice); a custom voice speaks with its `base` when it names one, else openai_voice. A
design's speaking rate is passed as `speed`."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import numpy as np

from opencharacters.domain.voice_designs import VoiceDesign
from opencharacters.engine_settings import TtsSettings
from opencharacters.media.audio import AudioChunk, Samples, int16_to_float
from opencharacters.speech.audio_visemes import viseme_spans
from opencharacters.speech.tts import PhonemeTiming, SpeechSegment, Voice, design_for

FIRST_PIECE_S = 0.15
PIECE_S = 0.4


class SpeechServerError(RuntimeError):
    """The speech server refused, failed or sent audio we cannot read."""


class _WavStream:
    """Reads a WAV header off the front of a stream (sizes may be 0 or 0xFFFFFFFF when
    streamed); after it, plain 16-bit PCM."""

    def __init__(self) -> None:
        self.buffer = b""
        self.rate: int | None = None
        self.channels = 1

    def feed(self, data: bytes) -> bytes:
        if self.rate is not None:
            return data
        self.buffer += data
        if len(self.buffer) < 12:
            return b""
        if self.buffer[:4] != b"RIFF" or self.buffer[8:12] != b"WAVE":
            raise SpeechServerError("the speech server's response is not a WAV file")
        position = 12
        while position + 8 <= len(self.buffer):
            kind = self.buffer[position : position + 4]
            size = struct.unpack("<I", self.buffer[position + 4 : position + 8])[0]
            body = position + 8
            if kind == b"data":
                self.rate = self.rate or 0
                rest = self.buffer[body:]
                self.buffer = b""
                if not self.rate:
                    raise SpeechServerError("WAV from the speech server has no fmt chunk")
                return rest
            if body + size > len(self.buffer):
                return b""
            if kind == b"fmt ":
                fmt, channels, rate, _, _, bits = struct.unpack(
                    "<HHIIHH", self.buffer[body : body + 16]
                )
                if fmt != 1 or bits != 16:
                    raise SpeechServerError(
                        f"WAV from the speech server is format {fmt}, {bits} bits; "
                        "only 16-bit PCM is supported"
                    )
                self.channels = channels
                self.rate = rate
            position = body + size + (size & 1)
        return b""


class _Resampler:
    """Streaming linear interpolation, continuous across pieces (a WAV whose rate is not the
    one expected; the normal path needs none)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.step = rate_in / rate_out
        self.position = 0.0
        """Next output instant, in input samples from the first sample of `joined` below."""
        self.last: Samples = np.zeros(0, dtype=np.float32)

    def __call__(self, samples: Samples) -> Samples:
        joined = np.concatenate([self.last, samples])
        if len(joined) < 2:
            self.last = joined
            return np.zeros(0, dtype=np.float32)
        end = len(joined) - 1
        points = np.arange(self.position, end + 1e-9, self.step)
        out: Samples = np.interp(points, np.arange(len(joined)), joined).astype(np.float32)
        following = points[-1] + self.step if len(points) else self.position
        self.position = following - end  # the next call starts from joined[end]
        self.last = joined[end:]
        return out


class OpenAISpeechSynthesizer:
    has_alignments = False

    def __init__(self, settings: TtsSettings) -> None:
        self._settings = settings
        self.sample_rate = settings.openai_sample_rate
        headers = {"Authorization": f"Bearer {settings.openai_api_key}"}
        self._client = httpx.Client(
            base_url=settings.openai_base_url.rstrip("/"),
            headers=headers if settings.openai_api_key else {},
            timeout=settings.timeout_s,
        )

    def close(self) -> None:
        self._client.close()

    def server_voice(self, voice: Voice) -> str:
        if isinstance(voice, VoiceDesign):
            return voice.base or self._settings.openai_voice
        design_for(voice)  # an unknown preset id fails here, as with the embedded voices
        return self._settings.openai_voices.get(voice, self._settings.openai_voice)

    def _request(self, text: str, voice: Voice) -> dict[str, Any]:
        design = design_for(voice)
        return {
            "model": self._settings.openai_model,
            "input": text,
            "voice": self.server_voice(voice),
            "response_format": self._settings.openai_format,
            "speed": round(min(4.0, max(0.25, 1.0 / design.length_scale)), 3),
        }

    def segments(
        self, text: str, voice_id: Voice
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        """(audio, estimated mouth shapes, seconds waited) per piece, as the server sends."""
        if not text.strip():
            return
        body = self._request(text, voice_id)
        started = time.perf_counter()
        try:
            with self._client.stream("POST", "/audio/speech", json=body) as response:
                if response.status_code != 200:
                    detail = response.read().decode("utf-8", "replace")[:300]
                    raise SpeechServerError(
                        f"speech server {self._settings.openai_base_url}: HTTP "
                        f"{response.status_code}: {detail}"
                    )
                yield from self._pieces(response.iter_bytes(), started)
        except httpx.HTTPError as exc:
            raise SpeechServerError(
                f"speech server {self._settings.openai_base_url}: {exc.__class__.__name__}: {exc}"
            ) from exc

    def _pieces(
        self, chunks: Iterator[bytes], started: float
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        wav = _WavStream() if self._settings.openai_format == "wav" else None
        resampler: _Resampler | None = None
        pending = b""
        buffered: list[Samples] = []
        held = 0
        wanted = int(FIRST_PIECE_S * self.sample_rate)
        for chunk in chunks:
            data = wav.feed(chunk) if wav is not None else chunk
            if not data:
                continue
            pending += data
            frame = 2 * (wav.channels if wav is not None else 1)
            usable = len(pending) - len(pending) % frame
            samples = int16_to_float(pending[:usable])
            pending = pending[usable:]
            if wav is not None and wav.channels > 1:
                samples = samples.reshape(-1, wav.channels).mean(axis=1).astype(np.float32)
            if wav is not None and wav.rate != self.sample_rate:
                assert wav.rate is not None
                resampler = resampler or _Resampler(wav.rate, self.sample_rate)
                samples = resampler(samples)
            buffered.append(samples)
            held += len(samples)
            if held >= wanted:
                yield self._piece(buffered, started)
                started = time.perf_counter()
                buffered, held = [], 0
                wanted = int(PIECE_S * self.sample_rate)
        if held:
            yield self._piece(buffered, started)

    def _piece(
        self, buffered: list[Samples], started: float
    ) -> tuple[Samples, tuple[PhonemeTiming, ...], float]:
        audio = np.concatenate(buffered).astype(np.float32)
        timings = tuple(
            PhonemeTiming("", viseme, start, end)
            for viseme, start, end in viseme_spans(audio, self.sample_rate)
        )
        return audio, timings, time.perf_counter() - started

    def synthesize_text(self, text: str, voice_id: Voice) -> Samples:
        pieces = [audio for audio, _, _ in self.segments(text, voice_id)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    async def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]:
        design_for(voice_id)  # fail before any audio, not halfway through
        clock = start_time_s
        async for text in text_chunks:
            iterator = self.segments(text, voice_id)
            try:
                while True:
                    item = await asyncio.to_thread(next, iterator, None)
                    if item is None:
                        break
                    audio, timings, spent = item
                    yield SpeechSegment(
                        text=text,
                        audio=AudioChunk(audio, self.sample_rate, clock),
                        phonemes=timings,
                        synth_s=spent,
                    )
                    clock += len(audio) / self.sample_rate
            finally:
                # Barge-in: closing the generator ends the HTTP response at once.
                await asyncio.to_thread(iterator.close)  # type: ignore[attr-defined]
