"""Piper voices as the base a voice is made from: the packaged `joe`, or any Piper voice the
user has (`.onnx` + its `.onnx.json` or `.json`), named in engines.tts.piper_voices.

Every voice design (presets, custom voices) describes an absolute voice: a median pitch in Hz
and a vocal-tract scale relative to joe. A base other than joe is measured once when first used
(a calibration sentence through the same instrument the cloning uses), so the transform moves
it from where it is to where the design wants it: a female base with a female preset is shifted
a little, instead of joe's 1.9-2.9x."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opencharacters.speech.piper_stream import SplitPiper

CALIBRATION_TEXT = (
    "The quick brown fox jumps over the lazy dog. How are you today? I would like to help you."
)


class PiperVoiceError(ValueError):
    """A configured Piper voice that cannot be used (missing file, bad config)."""


def config_path_for(model_path: Path) -> Path:
    """Piper's own convention is `voice.onnx.json`; `voice.json` is accepted too."""
    for candidate in (Path(f"{model_path}.json"), model_path.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    raise PiperVoiceError(
        f"{model_path}: no Piper config beside it (expected {model_path.name}.json "
        f"or {model_path.with_suffix('.json').name})"
    )


@dataclass(frozen=True, slots=True)
class LoadedPiper:
    voice: Any
    """piper.PiperVoice"""
    aligned: bool
    """Its model gives per-phoneme durations (patched in with the `onnx` package)."""
    split: SplitPiper | None
    """The same voice split at its vocoder, to stream a sentence (None: played whole)."""


def load_piper(model_path: Path, threads: int) -> LoadedPiper:
    """A PiperVoice whose ONNX session exposes alignments when the `onnx` package allows it,
    with our thread count (piper's own loader uses every core), and its split for streaming."""
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    if not model_path.is_file():
        raise PiperVoiceError(f"{model_path}: no such Piper voice file")
    try:
        config = PiperConfig.from_dict(json.loads(config_path_for(model_path).read_text()))
    except (ValueError, KeyError) as exc:
        raise PiperVoiceError(f"{model_path}: unreadable Piper config ({exc})") from exc
    model: str | bytes = str(model_path)
    proto: Any = None
    durations: str | None = None
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output

        proto = onnx.load(str(model_path))
        durations = add_alignment_output(proto)
        model = proto.SerializeToString()
    except (ImportError, ValueError):
        pass  # timings fall back to an even spread (tts._even_timings)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    voice = PiperVoice(session=session, config=config)
    split = None if proto is None else SplitPiper.from_model(voice, proto, durations, threads)
    return LoadedPiper(voice, durations is not None, split)


@dataclass(frozen=True, slots=True)
class BaseVoice:
    name: str
    voice: Any
    """piper.PiperVoice"""
    aligned: bool
    split: SplitPiper | None
    """None: the voice's sentences are synthesized whole (tts.PresetSynthesizer)."""
    sample_rate: int
    median_f0_hz: float
    """Where the transform starts from (joe: SOURCE_MEDIAN_F0_HZ)."""
    formant_scale: float
    """Its vocal tract relative to joe's (1.0 for joe): divides a design's formant ratio."""


def calibrate(voice: Any, sample_rate: int, reference: tuple[Any, int]) -> tuple[float, float]:
    """(median F0, formant scale relative to `reference`, joe's rendering of the same text)."""
    import numpy as np

    from opencharacters.speech import voice_analysis

    if not voice_analysis.has_reference():
        voice_analysis.set_reference(*reference)
    pieces = [chunk.audio_float_array for chunk in voice.synthesize(CALIBRATION_TEXT)]
    audio = np.concatenate(pieces).astype(np.float32)
    measured = voice_analysis.measure(audio, sample_rate, CALIBRATION_TEXT)
    return measured.f0_median_hz, measured.formant_scale
