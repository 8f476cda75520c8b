"""Turns joe's speech into another voice with the WORLD vocoder (pyworld).

WORLD splits speech into a pitch track, a smooth spectral envelope (the vocal tract: formants,
timbre) and aperiodicity (breath and noise), each of which we change independently before
resynthesis. WORLD's own pitch trackers double joe's low voice on a third of the frames, so the
pitch track comes from Praat's autocorrelation tracker (parselmouth), which follows a continuous
path, with the rare octave jumps clamped."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import parselmouth
import pyworld

from opencharacters.domain.voice_designs import SOURCE_MEDIAN_F0_HZ, VoiceDesign
from opencharacters.media.audio import Samples

_FRAME_PERIOD_MS = 5.0
_Floats = npt.NDArray[np.float64]


def source_pitch(
    audio: _Floats, sample_rate: int, ceiling_hz: float = 300.0
) -> tuple[_Floats, _Floats]:
    """F0 per 5 ms frame (0 = unvoiced) and the frame times."""
    n_frames = int(len(audio) / sample_rate * 1000 / _FRAME_PERIOD_MS) + 1
    times = np.arange(n_frames) * (_FRAME_PERIOD_MS / 1000)
    pitch = parselmouth.Sound(audio, sample_rate).to_pitch_ac(
        time_step=_FRAME_PERIOD_MS / 1000, pitch_floor=60.0, pitch_ceiling=ceiling_hz
    )
    track: _Floats = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    f0: _Floats = np.interp(times, pitch.xs(), track, left=0.0, right=0.0)
    # Interpolation smears voiced values into unvoiced neighbours: keep only truly voiced frames.
    voiced_nearest = np.interp(times, pitch.xs(), (track > 0).astype(float), left=0, right=0)
    f0[voiced_nearest < 0.999] = 0.0
    voiced = f0 > 0
    if voiced.any():
        median = float(np.median(f0[voiced]))
        f0[voiced] = np.clip(f0[voiced], median * 0.6, median * 1.7)
    return f0, np.asarray(times, dtype=np.float64)


def _warp_envelope(envelope: _Floats, ratio: float) -> _Floats:
    """Formant scaling: the envelope's value at f moves to f * ratio."""
    n_bins = envelope.shape[1]
    source_bins = np.minimum(np.arange(n_bins) / ratio, n_bins - 1)
    low = np.floor(source_bins).astype(int)
    high = np.minimum(low + 1, n_bins - 1)
    frac = source_bins - low
    warped: _Floats = envelope[:, low] * (1 - frac) + envelope[:, high] * frac
    return warped


def _tilt(n_bins: int, sample_rate: int, db_per_octave: float) -> _Floats:
    freqs = np.maximum(np.linspace(0, sample_rate / 2, n_bins), 150.0)
    gain_db = db_per_octave * np.log2(freqs / 1000.0)
    return np.asarray(10 ** (gain_db / 10), dtype=np.float64)  # the envelope is a power spectrum


def transform(
    samples: Samples,
    sample_rate: int,
    design: VoiceDesign,
    source_f0_hz: float = SOURCE_MEDIAN_F0_HZ,
) -> Samples:
    """`source_f0_hz`: the median pitch of the voice being transformed (joe's by default; a
    user's Piper voice is measured, see speech/piper_voices.py)."""
    if design.f0_hz is None or len(samples) < sample_rate // 50:
        return samples
    audio = samples.astype(np.float64)
    # joe's ceiling of 300 Hz would cut the top of a higher base voice's intonation.
    f0, times = source_pitch(audio, sample_rate, max(300.0, 2.0 * source_f0_hz))
    envelope = pyworld.cheaptrick(audio, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(audio, f0, times, sample_rate)

    voiced = f0 > 0
    new_f0 = np.zeros_like(f0)
    new_f0[voiced] = design.f0_hz * (f0[voiced] / source_f0_hz) ** design.pitch_range

    if design.formant_ratio != 1.0:
        envelope = _warp_envelope(envelope, design.formant_ratio)
        aperiodicity = _warp_envelope(aperiodicity, design.formant_ratio)
    if design.tilt_db_per_octave:
        envelope = envelope * _tilt(envelope.shape[1], sample_rate, design.tilt_db_per_octave)
    if design.breathiness:
        freqs = np.linspace(0, sample_rate / 2, aperiodicity.shape[1])
        weight = np.clip((freqs - 800.0) / 2200.0, 0.0, 1.0) * design.breathiness
        aperiodicity = aperiodicity + (1.0 - aperiodicity) * weight

    out = pyworld.synthesize(
        new_f0,
        np.ascontiguousarray(envelope),
        np.ascontiguousarray(np.clip(aperiodicity, 0.0, 1.0)),
        sample_rate,
        _FRAME_PERIOD_MS,
    )
    out = np.asarray(out[: len(samples)], dtype=np.float64)
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    if peak > 0:
        out = out * (0.9 / peak)
    result: Samples = out.astype(np.float32)
    return result
