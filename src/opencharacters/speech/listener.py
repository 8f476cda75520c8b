"""The hearing stage: caller audio in, speech starts (barge-in), partial and final transcripts out.

While the caller speaks, the utterance so far is decoded every `partial_interval_ms`, and once more
as soon as they fall silent. That last decode usually finishes inside the end-of-turn pause, so
when the turn ends its transcript is already there and nothing is left to compute. The partials
also tell the turn detector whether the caller finished a sentence (shorter pause)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from opencharacters.engine_settings import AsrSettings
from opencharacters.media.audio import AudioChunk, Samples, resample
from opencharacters.speech.asr import ASR_SAMPLE_RATE, SpeechRecognizer, Transcript
from opencharacters.speech.turns import TurnDetection
from opencharacters.speech.vad import VAD_SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    time_s: float


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    text: str
    time_s: float


@dataclass(frozen=True, slots=True)
class UserTurn:
    text: str
    speech_start_s: float
    speech_end_s: float
    turn_end_s: float
    asr_wait_s: float
    """Seconds waited for ASR after the turn ended (0 when a partial already covered it)."""


ListenerEvent = SpeechStarted | PartialTranscript | UserTurn


@dataclass(slots=True)
class _Decode:
    task: asyncio.Task[Transcript]
    covers_samples: int


class Listener:
    def __init__(
        self, detector: TurnDetection, recognizer: SpeechRecognizer, settings: AsrSettings
    ) -> None:
        self._detector = detector
        self._recognizer = recognizer
        self._interval_s = settings.partial_interval_ms / 1000
        self._decode: _Decode | None = None
        self._best: tuple[int, str] | None = None
        self._last_partial_at = 0.0
        self._was_silent = False

    async def listen(self, audio: AsyncIterator[AudioChunk]) -> AsyncIterator[ListenerEvent]:
        try:
            async for event in self._listen(audio):
                yield event
        finally:
            # Session over or consumer gone: no decode should outlive the stream.
            self._forget_decodes()

    async def _listen(self, audio: AsyncIterator[AudioChunk]) -> AsyncIterator[ListenerEvent]:
        async for chunk in audio:
            samples = resample(chunk.samples, chunk.sample_rate, VAD_SAMPLE_RATE)
            # Silero costs well under 1 ms per 32 ms frame: cheaper inline than a thread hop.
            for event in self._detector.push(samples):
                if event.kind == "speech_start":
                    self._forget_decodes()
                    self._last_partial_at = time.perf_counter()
                    self._was_silent = False
                    yield SpeechStarted(event.speech_start_s)
                else:
                    assert event.audio is not None and event.speech_end_s is not None
                    started = time.perf_counter()
                    text = await self._final_text(event.audio)
                    yield UserTurn(
                        text=text,
                        speech_start_s=event.speech_start_s,
                        speech_end_s=event.speech_end_s,
                        turn_end_s=event.time_s,
                        asr_wait_s=time.perf_counter() - started,
                    )
            partial = self._collect_partial()
            if partial is not None:
                yield PartialTranscript(partial, chunk.timestamp_s + chunk.duration_s)
            if self._detector.in_speech:
                self._maybe_start_partial()

    def _forget_decodes(self) -> None:
        if self._decode is not None:
            self._decode.task.cancel()
        self._decode = None
        self._best = None
        self._detector.set_partial_transcript("")

    def _maybe_start_partial(self) -> None:
        if self._decode is not None:
            return
        silent_now = self._detector.silence_started
        just_fell_silent = silent_now and not self._was_silent
        self._was_silent = silent_now
        due = time.perf_counter() - self._last_partial_at >= self._interval_s
        if not (due or just_fell_silent):
            return
        if self._best is not None and self._best[0] >= self._detector.speech_samples:
            # Nothing said since the last decode: another would only compete for the cores
            # with the dialogue model that is about to start.
            return
        utterance = self._detector.utterance_so_far()
        self._last_partial_at = time.perf_counter()
        task = asyncio.ensure_future(self._recognizer.transcribe(utterance, ASR_SAMPLE_RATE))
        self._decode = _Decode(task, len(utterance))

    def _collect_partial(self) -> str | None:
        if self._decode is None or not self._decode.task.done():
            return None
        decode, self._decode = self._decode, None
        if decode.task.cancelled() or decode.task.exception() is not None:
            return None
        text = decode.task.result().text
        self._best = (decode.covers_samples, text)
        self._detector.set_partial_transcript(text, decode.covers_samples)
        return text

    async def _final_text(self, utterance: Samples) -> str:
        # The trailing silence kept after the speech is not worth another decode.
        speech_samples = self._detector.last_turn_speech_samples
        if self._decode is not None and self._decode.covers_samples >= speech_samples:
            decode, self._decode = self._decode, None
            try:
                text = (await decode.task).text
            except Exception:
                text = None  # a failed partial is retried below as a full decode
            if text is not None:
                self._best = None
                return text
        if self._best is not None and self._best[0] >= speech_samples:
            text = self._best[1]
            self._forget_decodes()
            return text
        self._forget_decodes()
        return (await self._recognizer.transcribe(utterance, ASR_SAMPLE_RATE)).text
