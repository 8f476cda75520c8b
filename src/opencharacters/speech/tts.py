"""Speaking: Piper `joe` + per-preset voice transforms, streamed per sentence with phoneme and
viseme timings for the face animator.

Timings come from Piper's own duration predictor: the voice model is patched in memory (with the
`onnx` package, piper.patch_voice_with_alignment) to expose its per-phoneme sample counts. The
voice transforms keep WORLD's frame timing, so the timings hold for every preset."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from opencharacters.domain.voice_designs import SOURCE_MEDIAN_F0_HZ, VOICE_DESIGNS, VoiceDesign
from opencharacters.engine_settings import TtsSettings
from opencharacters.media.audio import AudioChunk, Samples, StreamResampler, resample
from opencharacters.speech.piper_voices import (
    CALIBRATION_TEXT,
    BaseVoice,
    PiperVoiceError,
    calibrate,
    load_piper,
)
from opencharacters.speech.visemes import viseme_for
from opencharacters.speech.voice_transform import TransformStream, transform


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
_LEVEL_TEXT = "The quick brown fox jumps over the lazy dog."
_STREAM_RMS = 0.09
"""A streamed voice's loudness on _LEVEL_TEXT: about what peak-normalizing each sentence to 0.9
gave on average, with room below full scale for louder sentences."""
_FIRST_WINDOW_FRAMES = 48
"""Latent frames (~0.56 s at Piper's hop) decoded before the first cut is looked for: enough
for a first piece of 0.3 s or more, which covers the decoding of the next one."""
_TIMING_MARGIN_S = 0.1
"""A piece's mouth track also sees the phonemes just around it (anticipation, smoothing)."""


def _aligned_timings(durations: Iterable[tuple[str, int]], rate: int) -> tuple[PhonemeTiming, ...]:
    """Timings from (phoneme, samples) in order, each viseme chosen after the one before."""
    out: list[PhonemeTiming] = []
    position = 0
    previous = "sil"
    for phoneme, samples in durations:
        start = position / rate
        position += samples
        previous = viseme_for(phoneme, previous)
        out.append(PhonemeTiming(phoneme, previous, start, position / rate))
    return tuple(out)


def _slice_timings(
    timings: tuple[PhonemeTiming, ...], start_s: float, end_s: float
) -> tuple[PhonemeTiming, ...]:
    """The sentence's timings near [start_s, end_s), relative to start_s (some start before
    0 or end after the piece: the face's track keeps what falls inside)."""
    return tuple(
        replace(t, start_s=t.start_s - start_s, end_s=t.end_s - start_s)
        for t in timings
        if t.end_s > start_s - _TIMING_MARGIN_S and t.start_s < end_s + _TIMING_MARGIN_S
    )


class PresetSynthesizer:
    JOE = "joe"

    def __init__(self, model_path: Path, settings: TtsSettings) -> None:
        self._settings = settings
        joe = load_piper(model_path, settings.threads)
        rate = int(joe.voice.config.sample_rate)
        self._bases: dict[str, BaseVoice] = {
            self.JOE: BaseVoice(
                self.JOE, joe.voice, joe.aligned, joe.split, rate, SOURCE_MEDIAN_F0_HZ, 1.0
            )
        }
        self._levels: dict[tuple[str, VoiceDesign], float] = {}
        self.has_alignments = joe.aligned
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
                loaded = load_piper(path, self._settings.threads)
                rate = int(loaded.voice.config.sample_rate)
                joe = self._bases[self.JOE]
                with self._lock:
                    reference = [c.audio_float_array for c in joe.voice.synthesize(_CALIBRATE)]
                f0, scale = calibrate(
                    loaded.voice, rate, (np.concatenate(reference), joe.sample_rate)
                )
                self._bases[name] = BaseVoice(
                    name, loaded.voice, loaded.aligned, loaded.split, rate, f0, scale
                )
        return self._bases[name]

    def segments(
        self, text: str, voice_id: Voice
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        """(audio, timings, seconds spent) for `text` in order: one or more pieces per
        sentence, the first as soon as a little of it is decoded (speech/piper_stream.py)."""
        base, design = self._base_and_design(voice_id)
        if base.split is None:
            yield from self._whole_sentences(text, base, design)
            return
        gain = self._level(base, design)
        with self._lock:
            sentences = base.split.sentences(text)
        for phonemes in sentences:
            yield from self._streamed_sentence(phonemes, base, design, gain)

    def _base_and_design(self, voice_id: Voice) -> tuple[BaseVoice, VoiceDesign]:
        design = design_for(voice_id)
        base = self.base_for(voice_id)
        if base.name != self.JOE:
            # Designs give the vocal tract relative to joe's; this base starts from its own.
            design = replace(design, formant_ratio=design.formant_ratio / base.formant_scale)
        return base, design

    def level(self, voice_id: Voice) -> float:
        """The fixed gain of a streamed voice (a sentence's peak is known only at its end):
        measured once per base and design on a calibration sentence (~0.3 s), so every voice
        speaks at about the same loudness."""
        return self._level(*self._base_and_design(voice_id))

    def _level(self, base: BaseVoice, design: VoiceDesign) -> float:
        key = (base.name, design)
        found = self._levels.get(key)
        if found is not None or base.split is None:
            return found or 1.0
        split = base.split
        with self._lock:
            phonemes = split.sentences(_LEVEL_TEXT)[0]
            latent = split.latent(phonemes, design.length_scale, design.noise_w)
            raw = split.decode(latent, 0, latent.n_frames)
        stream = TransformStream(base.sample_rate, design, base.median_f0_hz, 1.0)
        audio = np.concatenate([stream.push(raw), stream.finish()])
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
        gain = _STREAM_RMS / rms if rms > 1e-6 else 1.0
        self._levels[key] = gain
        return gain

    def _streamed_sentence(
        self, phonemes: list[str], base: BaseVoice, design: VoiceDesign, gain: float
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        assert base.split is not None
        started = time.perf_counter()
        with self._lock:
            latent = base.split.latent(phonemes, design.length_scale, design.noise_w)
        timings = (
            _aligned_timings(((s.phoneme, s.samples) for s in latent.spans), base.sample_rate)
            if latent.spans
            else _even_timings(phonemes, latent.n_samples / base.sample_rate)
        )
        stream = TransformStream(base.sample_rate, design, base.median_f0_hz, gain)
        resampler = StreamResampler(base.sample_rate, self.sample_rate)
        windows = base.split.windows(latent, _FIRST_WINDOW_FRAMES)
        position = 0  # samples of the sentence given out, at the base's rate
        while True:
            with self._lock:
                window = next(windows, None)
            last = window is None
            piece = stream.finish() if window is None else stream.push(window)
            if len(piece) == 0 and not last:
                continue
            audio = resampler.push(piece)
            if last:
                audio = np.concatenate([audio, resampler.flush()])
            if len(audio):
                begin = position / base.sample_rate
                position += len(piece)
                piece_timings = _slice_timings(timings, begin, position / base.sample_rate)
                yield audio, piece_timings, time.perf_counter() - started
                started = time.perf_counter()
            if last:
                return

    def _whole_sentences(
        self, text: str, base: BaseVoice, design: VoiceDesign
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        """A voice that cannot be split: each sentence synthesized, then transformed, whole."""
        from piper import SynthesisConfig

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
        return _aligned_timings(((a.phoneme, int(a.num_samples)) for a in alignments), source_rate)

    def synthesize_text(self, text: str, voice_id: Voice) -> Samples:
        pieces = [audio for audio, _, _ in self.segments(text, voice_id)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    async def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]:
        design_for(voice_id)  # fail before any audio, not halfway through
        await asyncio.to_thread(self.level, voice_id)
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
