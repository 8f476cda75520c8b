"""The avatar's voice: text → synthesizer → audio on the session clock (Speaker) and mouth
shapes at the same instants (the face animation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from opencharacters.media.audio import AudioChunk, Samples, StreamResampler
from opencharacters.pipeline.frames import Interruption, InterruptionCause
from opencharacters.pipeline.ports import FaceAnimation, SpeechSynthesizer
from opencharacters.pipeline.speaker import PLAYOUT_RATE, Speaker
from opencharacters.speech.tts import PhonemeTiming, Voice

Segment = tuple[Samples, tuple[PhonemeTiming, ...]]
"""Synthesized speech at the playout rate and its phoneme timings."""

PreparedLine = tuple[str, list[Segment]]
"""A sentence synthesized ahead, to play without delay (the goodbye)."""


async def _one(text: str) -> AsyncIterator[str]:
    yield text


class AvatarVoice:
    name = "voice"

    def __init__(self, speaker: Speaker, face: FaceAnimation, voice: Voice) -> None:
        self.speaker = speaker
        self.face = face
        self._voice = voice
        self._synthesizer: SpeechSynthesizer | None = None

    def use(self, synthesizer: SpeechSynthesizer) -> None:
        self._synthesizer = synthesizer

    async def segments(self, sentence: str) -> AsyncIterator[Segment]:
        """One sentence as it is synthesized (one or more pieces), at the playout rate: one
        resampler carries the sentence across its pieces, so they join without a seam."""
        assert self._synthesizer is not None, "the voice has no synthesizer yet"
        resampler: StreamResampler | None = None
        async for segment in self._synthesizer.synthesize(_one(sentence), self._voice):
            audio = segment.audio
            if resampler is None:
                resampler = StreamResampler(audio.sample_rate, PLAYOUT_RATE)
            samples = await asyncio.to_thread(resampler.push, audio.samples)
            yield samples, segment.phonemes
        if resampler is not None:
            rest = resampler.flush()
            if len(rest):
                yield rest, ()

    async def prepare(self, sentences: list[str]) -> list[PreparedLine]:
        return [(s, [segment async for segment in self.segments(s)]) for s in sentences]

    def schedule(self, segment: Segment) -> tuple[float, float]:
        """Queues speech after what is queued; the mouth follows at the same instants."""
        samples, phonemes = segment
        start, end = self.speaker.schedule(samples, PLAYOUT_RATE)
        self.face.push_audio(AudioChunk(samples, PLAYOUT_RATE, start), phonemes)
        return start, end

    @property
    def position_s(self) -> float:
        return self.speaker.position_s

    @property
    def queued_until_s(self) -> float:
        return self.speaker.queued_until_s

    def interrupt(self, frame: Interruption) -> None:
        if frame.cause is InterruptionCause.RETRACTED:
            return  # nothing of that answer was scheduled
        # Cut at the frame being sent (what the frame's cut_s was read from), 5 ms fade.
        self.speaker.clear()
        self.face.interrupt()
