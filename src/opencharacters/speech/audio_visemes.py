"""Mouth shapes from the sound alone, for speech that comes without phoneme timings (an
OpenAI-compatible speech server returns only audio).

Per 20 ms frame (10 ms hop): loudness gives how open the jaw is, the zero-crossing rate and the
share of energy above 3.5 kHz tell fricatives (s, sh, f) from voiced sounds, and the spectral
centroid of a voiced frame tells rounded back vowels (oo, oh: low) from open (ah) and spread
front ones (ee: high). It cannot see lips closing for p/b/m or the tongue for th; those come
out as the neighbouring shapes. Coarse, but the mouth opens and closes with the syllables, which
is what the eye follows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from opencharacters.media.audio import Samples

FRAME_S = 0.02
HOP_S = 0.01
SILENCE_DBFS = -45.0
"""Below this the mouth is shut (speech servers normalise around -20 dBFS)."""
LOUD_RANGE_DB = 30.0
"""From silence to a fully open jaw."""


def _frames(samples: Samples, rate: int) -> npt.NDArray[np.float64]:
    size = max(1, int(FRAME_S * rate))
    hop = max(1, int(HOP_S * rate))
    if len(samples) < size:
        padded = np.zeros(size, dtype=np.float64)
        padded[: len(samples)] = samples
        return padded[None, :]
    count = 1 + (len(samples) - size) // hop
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    framed: npt.NDArray[np.float64] = np.asarray(samples, dtype=np.float64)[index]
    return framed


def frame_visemes(samples: Samples, rate: int) -> list[str]:
    """One viseme class (speech/visemes.py's set) per 10 ms hop."""
    frames = _frames(samples, rate)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    level = np.clip((20 * np.log10(rms) - SILENCE_DBFS) / LOUD_RANGE_DB, 0.0, 1.0)
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    window = np.hanning(frames.shape[1])
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    freqs = np.fft.rfftfreq(frames.shape[1], 1.0 / rate)
    total = power.sum(axis=1) + 1e-12
    centroid = (power * freqs).sum(axis=1) / total
    high_share = power[:, freqs >= 3500].sum(axis=1) / total
    out: list[str] = []
    for lvl, z, c, high in zip(level, zcr, centroid, high_share, strict=True):
        if lvl <= 0.0:
            out.append("sil")
        elif high > 0.45 and z > 0.2:
            out.append("SS" if c > 4500 else "FF")
        elif lvl < 0.3:
            out.append("nn")  # quiet voiced: nasals, l, closing consonants
        elif c < 700:
            out.append("ou")
        elif c < 1100:
            out.append("oh")
        elif c < 1900:
            out.append("aa" if lvl > 0.55 else "E")
        else:
            out.append("ih")
    return _smoothed(out)


def _smoothed(classes: list[str]) -> list[str]:
    """A shape held for one hop only (10 ms) is noise: it takes its neighbours' shape."""
    out = list(classes)
    for i in range(1, len(out) - 1):
        if out[i - 1] == out[i + 1] != out[i]:
            out[i] = out[i - 1]
    return out


def viseme_spans(samples: Samples, rate: int) -> list[tuple[str, float, float]]:
    """(viseme, start s, end s) runs covering the audio, relative to its start."""
    classes = frame_visemes(samples, rate)
    duration = len(samples) / rate
    spans: list[tuple[str, float, float]] = []
    for i, viseme in enumerate(classes):
        start = i * HOP_S
        end = duration if i == len(classes) - 1 else min(duration, (i + 1) * HOP_S)
        if spans and spans[-1][0] == viseme:
            spans[-1] = (viseme, spans[-1][1], end)
        else:
            spans.append((viseme, start, end))
    return spans
