"""Custom voices from attributes, with the same builder the 30 presets use (VoiceDesign: Piper
`joe` plus WORLD pitch, formant, tilt and breathiness transforms, see voice_transform.py).

The mapping follows how listeners hear these words: gender sets the register (median pitch and
vocal-tract length), age moves both (children: high pitch and a short tract; older speakers a
little lower, slower, breathier and less varied), then pitch, pace, timbre, breathiness and
expressiveness adjust within it. bench/voice_bench.py checks that measured F0 and speaking rate
move the way each description says."""

from __future__ import annotations

import math

from opencharacters.domain.voice_designs import VOICE_DESIGNS, VoiceDesign
from opencharacters.domain.voices import PRESET_IDS
from opencharacters.speech.voice_prompts import VoiceAttributes

F0_RANGE_HZ = (70.0, 340.0)
FORMANT_RANGE = (0.84, 1.34)
LENGTH_RANGE = (0.65, 1.6)
TILT_RANGE = (-6.0, 6.0)
PITCH_RANGE_RANGE = (0.4, 1.7)

_REGISTER = {  # gender -> (median F0, formant ratio)
    "female": (205.0, 1.16),
    "male": (112.0, 0.98),
    "neutral": (150.0, 1.07),
}
_CHILD = {"female": (285.0, 1.3), "male": (260.0, 1.27), "neutral": (272.0, 1.29)}
_AGE = {  # age -> (F0 factor, formant offset, length factor, range factor, breathiness)
    "young": (1.05, 0.02, 0.95, 1.1, 0.0),
    "adult": (1.0, 0.0, 1.0, 1.0, 0.0),
    "middle-aged": (0.96, -0.01, 1.03, 0.95, 0.03),
    "old": (0.9, -0.02, 1.15, 0.85, 0.15),
}
_PITCH = {"very low": 0.8, "low": 0.89, "medium": 1.0, "high": 1.13, "very high": 1.27}
_PITCH_FORMANT = {"very low": 0.96, "low": 0.98, "medium": 1.0, "high": 1.02, "very high": 1.03}
_PACE = {"very slow": 1.42, "slow": 1.2, "medium": 1.0, "fast": 0.83, "very fast": 0.72}
_TILT = {"dark": -3.5, "warm": -2.0, "neutral": 0.0, "bright": 2.0, "crisp": 3.0}
_BREATH = {"none": 0.0, "slight": 0.15, "breathy": 0.4}
_EXPRESSION = {  # -> (pitch range, Piper noise_w)
    "monotone": (0.55, 0.5),
    "calm": (0.8, 0.6),
    "normal": (1.0, 0.8),
    "lively": (1.25, 0.95),
    "animated": (1.45, 1.0),
}


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def design_from_attributes(attributes: VoiceAttributes) -> VoiceDesign:
    if attributes.age == "child":
        f0, formant = _CHILD[attributes.gender]
        f0_age, formant_age, length_age, range_age, breath_age = 1.0, 0.0, 0.95, 1.15, 0.0
    else:
        f0, formant = _REGISTER[attributes.gender]
        f0_age, formant_age, length_age, range_age, breath_age = _AGE[attributes.age]
    pitch_range, noise_w = _EXPRESSION[attributes.expressiveness]
    return clamp_design(
        VoiceDesign(
            f0_hz=f0 * f0_age * _PITCH[attributes.pitch],
            formant_ratio=(formant + formant_age) * _PITCH_FORMANT[attributes.pitch],
            pitch_range=pitch_range * range_age,
            tilt_db_per_octave=_TILT[attributes.timbre],
            breathiness=min(0.6, _BREATH[attributes.breathiness] + breath_age),
            length_scale=_PACE[attributes.pace] * length_age,
            noise_w=noise_w,
        )
    )


def clamp_design(design: VoiceDesign) -> VoiceDesign:
    """Keeps every parameter where the builder stays intelligible, rounded so that a stored
    design reads the same back from JSON."""
    return VoiceDesign(
        f0_hz=None if design.f0_hz is None else round(_clamp(design.f0_hz, F0_RANGE_HZ), 2),
        formant_ratio=round(_clamp(design.formant_ratio, FORMANT_RANGE), 4),
        pitch_range=round(_clamp(design.pitch_range, PITCH_RANGE_RANGE), 4),
        tilt_db_per_octave=round(_clamp(design.tilt_db_per_octave, TILT_RANGE), 3),
        breathiness=round(_clamp(design.breathiness, (0.0, 0.6)), 3),
        length_scale=round(_clamp(design.length_scale, LENGTH_RANGE), 4),
        noise_w=round(_clamp(design.noise_w, (0.3, 1.2)), 3),
        base=design.base,
    )


def _parameter_distance(a: VoiceDesign, b: VoiceDesign) -> float:
    """Semitones of pitch and vocal-tract stretch, plus pace and tilt on comparable scales."""
    fa, fb = a.f0_hz or 88.6, b.f0_hz or 88.6
    return math.sqrt(
        (12 * math.log2(fa / fb)) ** 2
        + (12 * math.log2(a.formant_ratio / b.formant_ratio)) ** 2
        + (10 * math.log2(a.length_scale / b.length_scale)) ** 2
        + ((a.tilt_db_per_octave - b.tilt_db_per_octave) / 3) ** 2
    )


def nearest_preset(design: VoiceDesign) -> str:
    """The preset that sounds most like this design: the fallback when it is deleted."""
    return min(PRESET_IDS, key=lambda preset: _parameter_distance(design, VOICE_DESIGNS[preset]))
