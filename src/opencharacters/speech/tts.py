"""Speaking: Piper `joe` + per-preset voice transforms, streamed per sentence with phoneme and
viseme timings for the face animator.

Timings come from Piper's own duration predictor: the voice model is patched in memory (with the
`onnx` package, piper.patch_voice_with_alignment) to expose its per-phoneme sample counts. The
voice transforms keep WORLD's frame timing, so the timings hold for every preset."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from opencharacters.engine_settings import TtsSettings
from opencharacters.speech.audio import AudioChunk, Samples, resample
from opencharacters.speech.visemes import viseme_for
from opencharacters.speech.voice_designs import VOICE_DESIGNS, VoiceDesign
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


def design_for(voice: Voice) -> VoiceDesign:
    if isinstance(voice, VoiceDesign):
        return voice
    try:
        return VOICE_DESIGNS[voice]
    except KeyError:
        raise UnknownVoiceError(voice) from None


def _load_piper(model_path: Path, threads: int) -> tuple[object, bool]:
    """A PiperVoice whose ONNX session exposes alignments when the `onnx` package allows it,
    with our thread count (piper's own loader uses every core)."""
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    config = PiperConfig.from_dict(json.loads(Path(f"{model_path}.json").read_text()))
    model: str | bytes = str(model_path)
    aligned = False
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        proto = onnx.load(str(model_path))
        add_alignment_output(proto)
        model = proto.SerializeToString()
        aligned = True
    except (ImportError, ValueError):
        pass  # timings fall back to an even spread, see _even_timings
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config), aligned


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


class PresetSynthesizer:
    def __init__(self, model_path: Path, settings: TtsSettings) -> None:
        self._settings = settings
        self._voice, self.has_alignments = _load_piper(model_path, settings.threads)
        self._source_rate: int = self._voice.config.sample_rate  # type: ignore[attr-defined]
        self.sample_rate = settings.output_sample_rate
        self._lock = threading.Lock()

    def segments(
        self, text: str, voice_id: Voice
    ) -> Iterator[tuple[Samples, tuple[PhonemeTiming, ...], float]]:
        """(audio, timings, seconds spent) per sentence of `text`, in order."""
        from piper import SynthesisConfig

        design = design_for(voice_id)
        config = SynthesisConfig(length_scale=design.length_scale, noise_w_scale=design.noise_w)
        started = time.perf_counter()
        with self._lock:
            chunks = iter(
                self._voice.synthesize(text, config, include_alignments=self.has_alignments)  # type: ignore[attr-defined]
            )
        while True:
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            audio = transform(chunk.audio_float_array, self._source_rate, design)
            audio = resample(audio, self._source_rate, self.sample_rate)
            timings = self._timings(chunk, len(audio) / self.sample_rate)
            spent = time.perf_counter() - started
            yield audio, timings, spent
            started = time.perf_counter()

    def _timings(self, chunk: object, duration_s: float) -> tuple[PhonemeTiming, ...]:
        alignments = getattr(chunk, "phoneme_alignments", None)
        if not alignments:
            return _even_timings(list(getattr(chunk, "phonemes", [])), duration_s)
        out: list[PhonemeTiming] = []
        position = 0
        previous = "sil"
        for alignment in alignments:
            start = position / self._source_rate
            position += int(alignment.num_samples)
            previous = viseme_for(alignment.phoneme, previous)
            out.append(
                PhonemeTiming(alignment.phoneme, previous, start, position / self._source_rate)
            )
        return tuple(out)

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
