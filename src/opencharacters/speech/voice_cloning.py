"""Cloning a voice from a sample.

The embedded cloner matches what the preset builder can change - pitch (median and range),
vocal-tract scale, pace and spectral tilt/breathiness - not the speaker's identity: every
custom voice is still Piper `joe` underneath. It measures the sample (voice_analysis.py), maps
the measurements to builder parameters, then renders a calibration paragraph, measures it with
the same instrument and corrects the parameters, a few rounds, keeping the closest round.

A real zero-shot cloning model can take over through the VoiceCloner interface
(OPENCHARACTERS_ENGINES__VOICES__CLONER=plugin with CLONER_PLUGIN=package.module:factory; the
factory gets the configured model path and endpoint)."""

from __future__ import annotations

import asyncio
import importlib
import io
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from opencharacters.domain.voice_designs import VoiceDesign
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples, resample
from opencharacters.speech import voice_analysis
from opencharacters.speech.voice_analysis import VoiceMeasurements
from opencharacters.speech.voice_builder import clamp_design

MIN_SAMPLE_S = 10.0
MAX_SAMPLE_S = 300.0
MAX_SAMPLE_BYTES = 10 * 1024 * 1024
_TRANSCRIBE_S = 25.0
_VAD_RATE = 16_000

CALIBRATION_TEXT = (
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
    "The rainbow is a division of white light into many beautiful colors. These take the "
    "shape of a long round arch, with its path high above, and its two ends apparently beyond "
    "the horizon. There is, according to legend, a boiling pot of gold at one end."
)
"""What a clone says while it is being fitted (the Rainbow Passage, phonetically balanced)."""


class CloneRejected(Exception):
    """The sample cannot be cloned; the message becomes the voice's failureReason."""


@dataclass(frozen=True, slots=True)
class CloneResult:
    design: VoiceDesign
    sample: VoiceMeasurements
    clone: VoiceMeasurements | None
    """The fitted voice measured on the calibration text (None for plugin cloners)."""
    transcript: str
    speech_s: float
    rounds: list[dict[str, float]] = field(default_factory=list)


class VoiceCloner(Protocol):
    """A cloning backend. The embedded one returns a builder design; a zero-shot model plugin
    returns one too (its nearest builder approximation, used by the preview and as the fallback)
    and may keep its own speaker data under `extra` for its synthesizer."""

    def clone(self, samples: Samples, sample_rate: int) -> CloneResult: ...


def decode_sample(data: bytes) -> tuple[Samples, int]:
    """Any audio PyAV (FFmpeg) decodes, as mono float32 at its own rate."""
    import av

    if len(data) > MAX_SAMPLE_BYTES:
        raise CloneRejected(
            f"The audio file is {len(data)} bytes; the limit is {MAX_SAMPLE_BYTES} bytes (10 MB)."
        )
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise CloneRejected("The file holds no audio stream.")
            stream = container.streams.audio[0]
            rate = int(stream.rate or 0)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts: list[np.ndarray] = []
            for frame in container.decode(stream):  # type: ignore[union-attr]
                parts.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            parts.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    except CloneRejected:
        raise
    except Exception as exc:  # PyAV raises many kinds; all mean "not audio we can read"
        raise CloneRejected(
            f"The audio could not be decoded ({type(exc).__name__}); send WAV, MP3, M4A/AAC, "
            "OGG/Opus, FLAC or WebM audio."
        ) from None
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    if samples.size == 0 or rate <= 0:
        raise CloneRejected("The audio holds no samples.")
    return samples, rate


def check_duration(samples: Samples, rate: int) -> None:
    duration = len(samples) / rate
    if duration < MIN_SAMPLE_S or duration > MAX_SAMPLE_S:
        raise CloneRejected(
            f"The audio is {duration:.1f} s long; a cloning sample must be "
            f"{MIN_SAMPLE_S:.0f} s to {MAX_SAMPLE_S / 60:.0f} min ({MAX_SAMPLE_S:.0f} s) long."
        )


def speech_only(samples: Samples, rate: int, settings: EngineSettings) -> tuple[Samples, float]:
    """The sample's speech (Silero VAD, 16 kHz), pauses, music and noise cut out; refuses
    silence, music or noise, and too little speech, with a reason a person can act on."""
    from opencharacters.speech.engines import load_vad
    from opencharacters.speech.vad import VAD_FRAME_SAMPLES

    audio = resample(samples, rate, _VAD_RATE)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    rms_db = 20 * np.log10(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) + 1e-12)
    if peak < 0.003 or rms_db < -60:
        raise CloneRejected(
            f"The audio is silent (level {rms_db:.0f} dBFS); record someone speaking."
        )
    # Normalise the level so quiet recordings are judged like loud ones.
    audio = (audio * (0.5 / peak)).astype(np.float32)
    vad = load_vad(settings)
    n_frames = len(audio) // VAD_FRAME_SAMPLES
    probabilities = np.array(
        [
            vad.probability(audio[i * VAD_FRAME_SAMPLES : (i + 1) * VAD_FRAME_SAMPLES])
            for i in range(n_frames)
        ]
    )
    speech = probabilities > 0.5
    # Widen each speech frame by 2 frames (64 ms) so word edges survive.
    widened = np.convolve(speech.astype(float), np.ones(5), mode="same") > 0
    speech_s = float(speech.sum() * VAD_FRAME_SAMPLES / _VAD_RATE)
    minimum = settings.voices.min_speech_s
    if speech_s < 1.0:
        raise CloneRejected(
            "No speech was found in the audio: it sounds like music, noise or silence. "
            f"Send a recording with at least {minimum:.0f} s of one person speaking."
        )
    if speech_s < minimum:
        raise CloneRejected(
            f"The audio holds only {speech_s:.1f} s of speech; at least {minimum:.0f} s of one "
            "person speaking is needed."
        )
    # Speech runs, with what lay between them (pauses, music, noise) replaced by 0.3 s of
    # silence: the measurements still see a pause there, but nothing of what filled it.
    gap = np.zeros(int(0.3 * _VAD_RATE), dtype=np.float32)
    kept: list[Samples] = []
    for i in range(n_frames):
        if widened[i]:
            if kept and not widened[i - 1]:
                kept.append(gap)
            kept.append(audio[i * VAD_FRAME_SAMPLES : (i + 1) * VAD_FRAME_SAMPLES])
    return np.concatenate(kept).astype(np.float32), speech_s


class _Reference:
    lock = threading.Lock()
    ready = False


def ensure_reference(settings: EngineSettings) -> None:
    """Formant scales are relative to raw `joe` saying the calibration text: measure it once."""
    from opencharacters.speech.engines import shared_synthesizer

    with _Reference.lock:
        if _Reference.ready and voice_analysis.has_reference():
            return
        synthesizer = shared_synthesizer(settings)
        audio = synthesizer.synthesize_text(CALIBRATION_TEXT, VoiceDesign(None))
        voice_analysis.set_reference(audio, synthesizer.sample_rate)
        _Reference.ready = True


def measure_design(
    design: VoiceDesign, settings: EngineSettings, text: str = CALIBRATION_TEXT
) -> VoiceMeasurements:
    from opencharacters.speech.engines import shared_synthesizer

    ensure_reference(settings)
    synthesizer = shared_synthesizer(settings)
    audio = synthesizer.synthesize_text(text, design)
    return voice_analysis.measure(audio, synthesizer.sample_rate, text)


def _initial_design(target: VoiceMeasurements, joe: VoiceMeasurements) -> VoiceDesign:
    return clamp_design(
        VoiceDesign(
            f0_hz=target.f0_median_hz,
            formant_ratio=target.formant_scale / max(joe.formant_scale, 0.5),
            pitch_range=target.f0_spread_st / max(joe.f0_spread_st, 0.5),
            tilt_db_per_octave=target.tilt_db_per_octave - joe.tilt_db_per_octave,
            breathiness=0.0,
            length_scale=(joe.speech_rate / max(target.speech_rate, 0.5)) ** 1.5,
            noise_w=0.8,
        )
    )


def _corrected(
    design: VoiceDesign, target: VoiceMeasurements, got: VoiceMeasurements
) -> VoiceDesign:
    assert design.f0_hz is not None
    breath_gap = got.hnr_db - target.hnr_db  # clone cleaner than the sample: add breath
    return clamp_design(
        VoiceDesign(
            f0_hz=design.f0_hz * target.f0_median_hz / max(got.f0_median_hz, 1.0),
            formant_ratio=design.formant_ratio * target.formant_scale / got.formant_scale,
            pitch_range=design.pitch_range * target.f0_spread_st / max(got.f0_spread_st, 0.3),
            tilt_db_per_octave=design.tilt_db_per_octave
            + 0.8 * (target.tilt_db_per_octave - got.tilt_db_per_octave),
            breathiness=design.breathiness + 0.02 * breath_gap,
            # Piper's length scale moves the measured rate sub-linearly (about ^0.66).
            length_scale=design.length_scale
            * (got.speech_rate / max(target.speech_rate, 0.5)) ** 1.5,
            noise_w=design.noise_w,
        )
    )


def _fit_error(target: VoiceMeasurements, got: VoiceMeasurements) -> float:
    return voice_analysis.distance(target, got)


class EmbeddedCloner:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def clone(self, samples: Samples, sample_rate: int) -> CloneResult:
        from opencharacters.speech.engines import shared_recognizer

        check_duration(samples, sample_rate)
        speech, speech_s = speech_only(samples, sample_rate, self.settings)
        head = speech[: int(_TRANSCRIBE_S * _VAD_RATE)]
        # The process's recogniser (the live calls' one), not a second copy of Whisper; this
        # runs in a job's thread, which has no event loop of its own.
        recognizer = shared_recognizer(self.settings)
        transcript = asyncio.run(recognizer.transcribe(head, _VAD_RATE)).text
        words = len(transcript.split())
        if words < max(3, len(head) / _VAD_RATE * 0.5):
            raise CloneRejected(
                f"No intelligible speech was recognised ({words} words in "
                f"{len(head) / _VAD_RATE:.0f} s of voice-like audio): the sample sounds like "
                "music, singing or noise. Send a recording of one person speaking."
            )
        ensure_reference(self.settings)
        target = voice_analysis.measure(head, _VAD_RATE, transcript)
        if target.voiced_s < 2.0 or target.f0_median_hz <= 0:
            raise CloneRejected("The speech in the sample is too short or too noisy to measure.")
        joe = measure_design(VoiceDesign(None), self.settings)
        design = _initial_design(target, joe)
        rounds: list[dict[str, float]] = []
        best: tuple[float, VoiceDesign, VoiceMeasurements] | None = None
        for _ in range(self.settings.voices.fit_iterations + 1):
            got = measure_design(design, self.settings)
            error = _fit_error(target, got)
            rounds.append({"error": round(error, 3), **got.as_dict()})
            if best is None or error < best[0]:
                best = (error, design, got)
            design = _corrected(design, target, got)
        assert best is not None
        return CloneResult(
            design=best[1],
            sample=target,
            clone=best[2],
            transcript=transcript,
            speech_s=speech_s,
            rounds=rounds,
        )


def load_cloner(settings: EngineSettings) -> VoiceCloner:
    voices = settings.voices
    if voices.cloner == "plugin":
        if not voices.cloner_plugin or ":" not in voices.cloner_plugin:
            raise ValueError("cloner=plugin needs cloner_plugin = 'package.module:factory'")
        module_name, _, attribute = voices.cloner_plugin.partition(":")
        factory: Any = getattr(importlib.import_module(module_name), attribute)
        cloner: VoiceCloner = factory(
            model_path=voices.cloner_model_path, endpoint=voices.cloner_endpoint, settings=settings
        )
        return cloner
    return EmbeddedCloner(settings)
