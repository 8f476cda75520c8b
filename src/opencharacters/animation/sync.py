"""A/V sync measured on rendered pixels: how dark the mouth region is per frame against the
speech loudness envelope, cross-correlated. Positive offset = video late."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


def mouth_opening(
    frames: Sequence[Array], box: tuple[int, int, int, int], reference: Array
) -> Array:
    """Per frame, how much darker the mouth box is than in the reference (closed) image:
    grows as the cavity opens, whatever the lips and lines drawn there look like."""
    x0, y0, x1, y1 = box
    rest = reference[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
    values = []
    for frame in frames:
        patch = frame[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
        values.append(float(np.mean(np.clip(rest - patch, 0.0, None))))
    return np.asarray(values)


def speech_envelope(samples: Array, sample_rate: int, fps: int, count: int) -> Array:
    """RMS over each frame's 1/fps window, starting at the frame's timestamp."""
    hop = sample_rate / fps
    values = []
    for n in range(count):
        window = samples[round(n * hop) : round((n + 1) * hop)]
        values.append(float(np.sqrt(np.mean(window**2))) if len(window) else 0.0)
    return np.asarray(values)


def av_offset_s(video_signal: Array, audio_signal: Array, fps: int, max_lag: int = 5) -> float:
    """Lag (s) maximising the normalised cross-correlation, refined to sub-frame by a parabola."""
    v = (video_signal - video_signal.mean()) / (video_signal.std() + 1e-9)
    a = (audio_signal - audio_signal.mean()) / (audio_signal.std() + 1e-9)
    lags = np.arange(-max_lag, max_lag + 1)
    scores = []
    for lag in lags:
        if lag >= 0:
            scores.append(float(np.mean(v[lag:] * a[: len(a) - lag])))
        else:
            scores.append(float(np.mean(v[:lag] * a[-lag:])))
    best = int(np.argmax(scores))
    shift = 0.0
    if 0 < best < len(scores) - 1:
        left, centre, right = scores[best - 1], scores[best], scores[best + 1]
        denominator = left - 2 * centre + right
        if denominator < 0:
            shift = 0.5 * (left - right) / denominator
    return float((lags[best] + shift) / fps)


def syllables(duration_s: float, sample_rate: int, rate_hz: float = 3.3) -> Array:
    """A synthetic utterance: a voiced buzz with syllable-like loudness bumps and pauses."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    buzz = np.sign(np.sin(2 * np.pi * 140 * t)) * 0.5 + np.sin(2 * np.pi * 700 * t) * 0.3
    bumps = np.clip(np.sin(2 * np.pi * rate_hz * t), 0.0, 1.0) ** 2
    phrase = (np.sin(2 * np.pi * 0.4 * t) > -0.6).astype(np.float64)
    return np.asarray((0.3 * buzz * bumps * phrase).astype(np.float32))
