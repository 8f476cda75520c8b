"""Speaking: Piper `joe` + per-preset voice transforms, streamed per sentence with phoneme and
viseme timings for the face animator.

Timings come from Piper's own duration predictor: the voice model is patched in memory (with the
`onnx` package, piper.patch_voice_with_alignment) to expose its per-phoneme sample counts. The
voice transforms keep WORLD's frame timing, so the timings hold for every preset."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from opencharacters.domain.voice_designs import SOURCE_MEDIAN_F0_HZ, VOICE_DESIGNS, VoiceDesign
from opencharacters.engine_settings import TtsSettings
from opencharacters.media.audio import AudioChunk, Samples, resample
from opencharacters.speech.piper_voices import (
    CALIBRATION_TEXT,
    BaseVoice,
    PiperVoiceError,
    calibrate,
    load_piper,
)
from opencharacters.speech.visemes import viseme_for
from opencharacters.speech.voice_transform import transform


class UnknownVoiceError(KeyError):
    pass


Voice = str | VoiceDesign
"""A preset id, or the design of a custom voice (speech/voice_builder.py makes those)."""


@dataclass(frozen=True, slots=True)
class PhonemeTiming:
    phoneme: str
    viseme: str
    start_s: float
    end_s: float
    """Relative to the start of the segment's audio."""


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    text: str
    audio: AudioChunk
    """Its timestamp is on the caller's clock (start_time_s + audio spoken before it)."""
    phonemes: tuple[PhonemeTiming, ...]
    synth_s: float


class SpeechSynthesizer(Protocol):
    sample_rate: int

    def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]: ...


class SegmentSynthesizer(SpeechSynthesizer, Protocol):
    """What the live worker and avatar videos use: pieces of speech with their timings, in
    order, from a worker thread (PresetSynthesizer, speech/tts_openai.py)."""

    def segments(
        self, text: str, voice_id: Voice
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]: ...

    def synthesize_text(self, text: str, voice_id: Voice) -> Samples: ...


def design_for(voice: Voice) -> VoiceDesign:
    if isinstance(voice, VoiceDesign):
        return voice
    try:
        return VOICE_DESIGNS[voice]
    except KeyError:
        raise UnknownVoiceError(voice) from None


def _even_timings(phonemes: list[str], duration_s: float) -> tuple[PhonemeTiming, ...]:
    """Without alignments: phonemes spread evenly (coarse, but keeps the mouth moving)."""
    if not phonemes:
        return ()
    step = duration_s / len(phonemes)
    out: list[PhonemeTiming] = []
    previous = "sil"
    for i, phoneme in enumerate(phonemes):
        previous = viseme_for(phoneme, previous)
        out.append(PhonemeTiming(phoneme, previous, i * step, (i + 1) * step))
    return tuple(out)


_CALIBRATE = CALIBRATION_TEXT


class PresetSynthesizer:
    JOE = "joe"

    def __init__(self, model_path: Path, settings: TtsSettings) -> None:
        self._settings = settings
        voice, aligned = load_piper(model_path, settings.threads)
        rate = int(voice.config.sample_rate)
        self._bases: dict[str, BaseVoice] = {
            self.JOE: BaseVoice(self.JOE, voice, aligned, rate, SOURCE_MEDIAN_F0_HZ, 1.0)
        }
        self.has_alignments = aligned
        self.sample_rate = settings.output_sample_rate
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        for preset, base in settings.preset_bases.items():
            if preset not in VOICE_DESIGNS or (base not in settings.piper_voices):
                raise PiperVoiceError(
                    f"engines.tts.preset_bases: {preset!r} -> {base!r} needs a preset id and a "
                    f"name from engines.tts.piper_voices ({', '.join(settings.piper_voices)})"
                )

    def base_voices(self) -> list[str]:
        return [self.JOE, *self._settings.piper_voices]

    def base_for(self, voice: Voice) -> BaseVoice:
        """The Piper voice `voice` is made from (loaded and measured on first use: ~2 s)."""
        if isinstance(voice, VoiceDesign):
            name = voice.base or self.JOE
        else:
            name = self._settings.preset_bases.get(voice, self.JOE)
        found = self._bases.get(name)
        if found is not None:
            return found
        path = self._settings.piper_voices.get(name)
        if path is None:
            raise UnknownVoiceError(f"base voice {name!r} is not in engines.tts.piper_voices")
        with self._loading:
            if name not in self._bases:
                loaded, aligned = load_piper(path, self._settings.threads)
                rate = int(loaded.config.sample_rate)
                joe = self._bases[self.JOE]
                with self._lock:
                    reference = [c.audio_float_array for c in joe.voice.synthesize(_CALIBRATE)]
                f0, scale = calibrate(loaded, rate, (np.concatenate(reference), joe.sample_rate))
                self._bases[name] = BaseVoice(name, loaded, aligned, rate, f0, scale)
        return self._bases[name]

    def segments(
        self, text: str, voice_id: Voice
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        """(audio, timings, seconds spent) per sentence of `text`, in order."""
        from piper import SynthesisConfig

        design = design_for(voice_id)
        base = self.base_for(voice_id)
        if base.name != self.JOE:
            # Designs give the vocal tract relative to joe's; this base starts from its own.
            design = replace(design, formant_ratio=design.formant_ratio / base.formant_scale)
        config = SynthesisConfig(length_scale=design.length_scale, noise_w_scale=design.noise_w)
        started = time.perf_counter()
        with self._lock:
            chunks = iter(base.voice.synthesize(text, config, include_alignments=base.aligned))
        while True:
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            audio = transform(chunk.audio_float_array, base.sample_rate, design, base.median_f0_hz)
            audio = resample(audio, base.sample_rate, self.sample_rate)
            timings = self._timings(chunk, len(audio) / self.sample_rate, base.sample_rate)
            spent = time.perf_counter() - started
            yield audio, timings, spent
            started = time.perf_counter()

    def _timings(
        self, chunk: object, duration_s: float, source_rate: int
    ) -> tuple[PhonemeTiming, ...]:
        alignments = getattr(chunk, "phoneme_alignments", None)
        if not alignments:
            return _even_timings(list(getattr(chunk, "phonemes", [])), duration_s)
        out: list[PhonemeTiming] = []
        position = 0
        previous = "sil"
        for alignment in alignments:
            start = position / source_rate
            position += int(alignment.num_samples)
            previous = viseme_for(alignment.phoneme, previous)
            out.append(PhonemeTiming(alignment.phoneme, previous, start, position / source_rate))
        return tuple(out)

    def synthesize_text(self, text: str, voice_id: Voice) -> Samples:
        pieces = [audio for audio, _, _ in self.segments(text, voice_id)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    async def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]:
        design_for(voice_id)  # fail before any audio, not halfway through
        await asyncio.to_thread(self.base_for, voice_id)
        clock = start_time_s
        async for text in text_chunks:
            iterator = self.segments(text, voice_id)
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
