"""Speech → mouth parameters over time, from phoneme timings or from the audio itself.

Both paths produce a `MouthTrack` sampled at 100 Hz on the segment's own clock. Coarticulation:
each viseme's target starts a little before its sound (lips move ahead of the voice), and the
targets are then low-pass filtered so neighbouring shapes blend instead of snapping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from opencharacters.animation.params import FaceParams
from opencharacters.speech.tts import PhonemeTiming

Array = np.ndarray[Any, Any]
TRACK_RATE = 100
"""Samples per second of a mouth track."""
ANTICIPATION_S = 0.04
SMOOTHING_S = 0.03
MOUTH_PARAMS = ("jaw", "round", "spread", "close", "upper_lift")

VISEME_TARGETS: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"close": 1.0},
    # The lower lip tucks under the upper teeth, which the raised upper lip shows.
    "FF": {"jaw": 0.12, "upper_lift": 0.85, "close": 0.3},
    "TH": {"jaw": 0.25, "spread": 0.2, "upper_lift": 0.2},
    "DD": {"jaw": 0.3, "spread": 0.2},
    "kk": {"jaw": 0.35},
    "CH": {"jaw": 0.2, "round": 0.55, "upper_lift": 0.5},
    "SS": {"jaw": 0.12, "spread": 0.5, "upper_lift": 0.2},
    "nn": {"jaw": 0.25, "spread": 0.15},
    "RR": {"jaw": 0.25, "round": 0.45},
    # Open vowels raise the upper lip as well as dropping the jaw.
    "aa": {"jaw": 0.85, "upper_lift": 0.4},
    "E": {"jaw": 0.55, "spread": 0.45, "upper_lift": 0.3},
    "ih": {"jaw": 0.35, "spread": 0.7, "upper_lift": 0.15},
    "oh": {"jaw": 0.6, "round": 0.7, "upper_lift": 0.15},
    "ou": {"jaw": 0.3, "round": 1.0},
}
REST_GATE = 0.02
"""Mouth values below this are rest: smoothing tails and breath noise never leave the lips
slightly apart between phrases."""


def _gated(series: Array, gate: float = REST_GATE) -> Array:
    """0 below `gate`, continuous above it (values rise from 0 at the gate to 1 at 1)."""
    return np.asarray(np.clip((series - gate) / (1.0 - gate), 0.0, None))


@dataclass(frozen=True, slots=True)
class MouthTrack:
    start_s: float
    """Session-clock time of the first sample."""
    values: dict[str, Array]
    """Per mouth parameter, one value per 1/TRACK_RATE s."""

    @property
    def end_s(self) -> float:
        return self.start_s + len(next(iter(self.values.values()))) / TRACK_RATE

    def at(self, time_s: float) -> FaceParams:
        position = (time_s - self.start_s) * TRACK_RATE
        sampled = {}
        for name, series in self.values.items():
            if len(series) == 0 or position < 0 or position > len(series) - 1:
                sampled[name] = 0.0
            else:
                sampled[name] = float(np.interp(position, np.arange(len(series)), series))
        return FaceParams(**sampled)


def _smooth(series: Array, sigma_s: float) -> Array:
    sigma = sigma_s * TRACK_RATE
    radius = int(3 * sigma) + 1
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(series, radius, mode="edge"), kernel, mode="valid")


def track_from_phonemes(
    phonemes: Sequence[PhonemeTiming], duration_s: float, start_s: float = 0.0
) -> MouthTrack:
    """Targets per viseme, shifted ANTICIPATION_S earlier, then smoothed."""
    count = max(1, round(duration_s * TRACK_RATE) + 1)
    raw = {name: np.zeros(count) for name in MOUTH_PARAMS}
    for timing in phonemes:
        first = max(0, round((timing.start_s - ANTICIPATION_S) * TRACK_RATE))
        last = min(count, round((timing.end_s - ANTICIPATION_S) * TRACK_RATE) + 1)
        target = VISEME_TARGETS.get(timing.viseme, {})
        for name in MOUTH_PARAMS:
            raw[name][first:last] = target.get(name, 0.0)
    values = {name: _smooth(series, SMOOTHING_S) for name, series in raw.items()}
    # A closure must really seal the lips even when it is short: sharper and it wins over jaw.
    values["close"] = np.clip(_smooth(raw["close"], SMOOTHING_S / 2) * 1.3, 0.0, 1.0)
    values["jaw"] = values["jaw"] * (1.0 - values["close"])
    return MouthTrack(start_s, {name: _gated(series) for name, series in values.items()})


def track_from_audio(samples: Array, sample_rate: int, start_s: float = 0.0) -> MouthTrack:
    """Jaw from loudness, rounding/spreading from spectral brightness, for audio without timings."""
    hop = sample_rate // TRACK_RATE
    window = 2 * hop
    count = max(1, len(samples) // hop + 1)
    padded = np.pad(samples.astype(np.float64), (hop, window))
    frames = np.lib.stride_tricks.sliding_window_view(padded, window)[::hop][:count]
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    level_db = 20 * np.log10(rms)
    loudest = float(np.percentile(level_db, 95)) if len(level_db) else -20.0
    jaw = np.clip((level_db - (loudest - 30.0)) / 27.0, 0.0, 1.0) ** 1.3
    # Breath and room noise between words is not speech: the lips stay together.
    jaw = _gated(jaw, 0.08)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window), axis=1))
    freqs = np.fft.rfftfreq(window, 1.0 / sample_rate)
    centroid = (spectrum @ freqs) / (spectrum.sum(axis=1) + 1e-9)
    # Dark vowels (oo, oh) have low centroids, bright ones (ee) and sibilants high ones.
    rounding = np.clip((900.0 - centroid) / 500.0, 0.0, 1.0) * (jaw > 0.1)
    spreading = np.clip((centroid - 2200.0) / 2000.0, 0.0, 1.0) * (jaw > 0.05)
    values = {
        "jaw": _gated(_smooth(jaw * 0.9, SMOOTHING_S)),
        "round": _gated(_smooth(rounding * 0.7, SMOOTHING_S * 2)),
        "spread": _gated(_smooth(spreading * 0.6, SMOOTHING_S * 2)),
        "close": np.zeros(count),
        "upper_lift": np.zeros(count),
    }
    return MouthTrack(start_s, values)
