"""Measuring a speaker: pitch, vocal-tract scale, speaking rate, spectral tilt, breathiness.

The same instrument measures a cloning sample, the voices the builder renders while fitting a
clone, and the designed voices in bench/voice_bench.py, so what it calls "formant scale" or
"rate" means the same thing everywhere:

- F0: Praat's autocorrelation tracker in two passes (the second with floor and ceiling from the
  first pass's quartiles, as Hirst's method does), so neither a low male nor a child voice gets
  halved or doubled.
- Formant scale: the speaker's average spectral envelope (WORLD CheapTrick, which removes the
  harmonics) compared with the reference voice's (Piper `joe`, the builder's source): the
  frequency stretch that best aligns the two, after removing each one's tilt. This is the
  vocal-tract-length factor the builder's formant warp applies, so a builder's voice with
  formant_ratio r measures close to r.
- Speaking rate: timing units per second of speech, pauses excluded. The words (the builder's
  own text, or a sample's transcript) give the units through espeak-ng's phonemes: one per
  phone, plus one per stress mark and per length mark, since stressed syllables and long vowels
  take about twice a phone's time. This count tracks duration far better than syllables do:
  raw `joe` reads three different texts at 18.0-19.3 units/s, where the same texts measure
  4.1-4.6 syllables/s and 14.0-15.6 plain phones/s. Without the words, syllable nuclei
  (intensity peaks in voiced stretches, de Jong & Wempe's method) times 4.1 stand in, more
  noisily.
- Spectral tilt: slope of the average envelope between 500 Hz and 4 kHz, in dB per octave.
- Breathiness: harmonics-to-noise ratio of the voiced frames (lower is breathier)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import parselmouth
import pyworld

from opencharacters.media.audio import Samples, resample

ANALYSIS_RATE = 16_000
_FRAME_S = 0.005
_Floats = npt.NDArray[np.float64]
_BAND_HZ = (300.0, 4500.0)
_SCALES = np.exp(np.linspace(np.log(0.7), np.log(1.6), 181))


@dataclass(frozen=True, slots=True)
class VoiceMeasurements:
    duration_s: float
    speech_s: float
    """Time above the silence threshold (pauses excluded)."""
    voiced_s: float
    f0_median_hz: float
    f0_p10_hz: float
    f0_p90_hz: float
    f0_spread_st: float
    """Standard deviation of the pitch in semitones around its median: intonation range."""
    formant_scale: float
    """Vocal-tract scale relative to the reference voice (1.0 = joe; >1 shorter tract)."""
    speech_rate: float
    """Timing units (phones, stresses, long vowels) per second of speech, pauses excluded."""
    tilt_db_per_octave: float
    hnr_db: float

    def as_dict(self) -> dict[str, float]:
        return {key: round(float(value), 4) for key, value in asdict(self).items()}


def _pitch(sound: parselmouth.Sound, floor: float, ceiling: float) -> tuple[_Floats, _Floats]:
    pitch = sound.to_pitch_ac(time_step=_FRAME_S, pitch_floor=floor, pitch_ceiling=ceiling)
    return (
        np.asarray(pitch.xs(), dtype=np.float64),
        np.asarray(pitch.selected_array["frequency"], dtype=np.float64),
    )


def pitch_track(samples: Samples, rate: int) -> tuple[_Floats, _Floats]:
    """(times, F0 per 5 ms frame, 0 = unvoiced), two-pass as described above."""
    sound = parselmouth.Sound(samples.astype(np.float64), rate)
    times, f0 = _pitch(sound, 60.0, 700.0)
    voiced = f0[f0 > 0]
    if len(voiced) < 20:
        return times, f0
    q25, q75 = np.percentile(voiced, [25, 75])
    return _pitch(sound, max(50.0, 0.75 * q25), min(900.0, 1.5 * q75))


def _envelope_average(audio: _Floats, rate: int, f0: _Floats, times: _Floats) -> _Floats | None:
    """Mean log power envelope (dB) over voiced frames, on CheapTrick's frequency bins."""
    voiced = f0 > 0
    if voiced.sum() < 20:
        return None
    envelope = pyworld.cheaptrick(audio, f0, times, rate)
    # Loud frames only: quiet voiced frames are mostly transitions.
    power = envelope[voiced]
    energy = power.sum(axis=1)
    keep = energy >= np.percentile(energy, 30)
    log_env = 10 * np.log10(power[keep] + 1e-12)
    # Each frame normalised to its own level, so loud vowels do not dominate the shape.
    log_env -= log_env.mean(axis=1, keepdims=True)
    average: _Floats = log_env.mean(axis=0)
    return average


def _detrended(log_env: _Floats, freqs: _Floats, band: npt.NDArray[np.bool_]) -> _Floats:
    x = np.log2(freqs[band])
    y = log_env[band]
    slope, intercept = np.polyfit(x, y, 1)
    residual: _Floats = y - (slope * x + intercept)
    return residual


def _tilt(log_env: _Floats, freqs: _Floats) -> float:
    band = (freqs >= 500) & (freqs <= 4000)
    slope, _ = np.polyfit(np.log2(freqs[band]), log_env[band], 1)
    return float(slope)


def formant_scale_between(
    log_env: _Floats, reference: _Floats, freqs: _Floats
) -> tuple[float, float]:
    """(scale, correlation): the stretch s for which envelope(f) best matches reference(f / s)."""
    band = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    target = _detrended(log_env, freqs, band)
    target = (target - target.mean()) / (target.std() + 1e-9)
    best = (1.0, -2.0)
    for scale in _SCALES:
        warped = np.interp(freqs / scale, freqs, reference)
        candidate = _detrended(warped, freqs, band)
        candidate = (candidate - candidate.mean()) / (candidate.std() + 1e-9)
        score = float(np.mean(target * candidate))
        if score > best[1]:
            best = (float(scale), score)
    return best


def _speech_mask(
    intensity_times: _Floats, intensity_db: _Floats, pitch_times: _Floats, f0: _Floats
) -> npt.NDArray[np.bool_]:
    """Speaking time on the intensity frames: voiced stretches widened by 80 ms on each side
    (the consonants around them) and joined across gaps under 200 ms, within frames above the
    silence threshold (30 dB under the loud level). Pauses are what is left out."""
    if len(intensity_db) == 0:
        return np.zeros(0, dtype=bool)
    voiced = np.interp(intensity_times, pitch_times, (f0 > 0).astype(float), left=0, right=0)
    mask = voiced > 0.5
    widen = 8  # 10 ms frames
    padded = np.convolve(mask.astype(float), np.ones(2 * widen + 1), mode="same") > 0
    loud = float(np.percentile(intensity_db, 99))
    padded &= intensity_db > loud - 30.0
    # Join short gaps (stop closures, brief hesitations).
    out = padded.copy()
    gap_start: int | None = None
    for i, value in enumerate(padded):
        if not value and gap_start is None:
            gap_start = i
        elif value and gap_start is not None:
            if i - gap_start < 20 and gap_start > 0:
                out[gap_start:i] = True
            gap_start = None
    result: npt.NDArray[np.bool_] = out
    return result


def _syllables(
    intensity_times: _Floats,
    intensity_db: _Floats,
    speech: npt.NDArray[np.bool_],
    pitch_times: _Floats,
    f0: _Floats,
) -> int:
    """Syllable nuclei: intensity peaks in speech, ≥2 dB above the dip before them, voiced."""
    if len(intensity_db) < 3:
        return 0
    threshold = float(np.median(intensity_db[speech])) if speech.any() else 0.0
    peaks: list[int] = []
    for i in range(1, len(intensity_db) - 1):
        if (
            speech[i]
            and intensity_db[i] >= intensity_db[i - 1]
            and intensity_db[i] > intensity_db[i + 1]
            and intensity_db[i] > threshold - 2.0
        ):
            peaks.append(i)
    nuclei = 0
    previous: int | None = None
    for peak in peaks:
        if previous is not None:
            dip = float(intensity_db[previous : peak + 1].min())
            if min(intensity_db[previous], intensity_db[peak]) - dip < 2.0:
                # No real dip between them: one syllable, keep the louder peak.
                if intensity_db[peak] > intensity_db[previous]:
                    previous = peak
                continue
        if previous is not None and _voiced_at(intensity_times[previous], pitch_times, f0):
            nuclei += 1
        previous = peak
    if previous is not None and _voiced_at(intensity_times[previous], pitch_times, f0):
        nuclei += 1
    return nuclei


def _voiced_at(at: float, times: _Floats, f0: _Floats) -> bool:
    index = int(np.clip(np.searchsorted(times, at), 0, len(times) - 1))
    lo, hi = max(0, index - 2), min(len(f0), index + 3)
    return bool((f0[lo:hi] > 0).any())


class _Reference:
    """The reference voice's (joe's) average envelope, measured once per process."""

    _lock = threading.Lock()
    _envelope: _Floats | None = None

    @classmethod
    def get(cls) -> _Floats | None:
        return cls._envelope

    @classmethod
    def set(cls, envelope: _Floats) -> None:
        with cls._lock:
            cls._envelope = envelope


def set_reference(samples: Samples, rate: int) -> None:
    """Measures the reference voice (raw Piper joe) that formant scales are relative to."""
    audio = resample(samples, rate, ANALYSIS_RATE).astype(np.float64)
    times, f0 = pitch_track(audio.astype(np.float32), ANALYSIS_RATE)
    grid = np.arange(int(len(audio) / ANALYSIS_RATE / _FRAME_S) + 1, dtype=np.float64) * _FRAME_S
    f0_grid = _on_grid(times, f0, grid)
    envelope = _envelope_average(audio, ANALYSIS_RATE, f0_grid, grid)
    if envelope is None:
        raise ValueError("the reference audio has no voiced speech")
    _Reference.set(envelope)


def has_reference() -> bool:
    return _Reference.get() is not None


def _on_grid(times: _Floats, f0: _Floats, grid: _Floats) -> _Floats:
    voiced = np.interp(grid, times, (f0 > 0).astype(float), left=0, right=0) > 0.999
    out: _Floats = np.interp(grid, times, f0, left=0, right=0)
    out[~voiced] = 0.0
    return out


_UNITS_PER_SYLLABLE = 4.1
_phonemizer_lock = threading.Lock()


def count_units(text: str) -> int:
    """Timing units in espeak-ng's General American phonemes for `text`: phones, stress marks
    and length marks (spaces and punctuation left out)."""
    from piper.phonemize_espeak import EspeakPhonemizer

    with _phonemizer_lock:
        sentences = EspeakPhonemizer().phonemize("en-us", text)
    return sum(1 for phonemes in sentences for p in phonemes if p.isalpha())


def measure(samples: Samples, rate: int, text: str | None = None) -> VoiceMeasurements:
    """Everything above, from mono float audio at any rate (needs set_reference first).
    `text`: the words spoken, when known, for an exact syllable count."""
    reference = _Reference.get()
    if reference is None:
        raise RuntimeError("set_reference() has not been called")
    audio32 = resample(samples, rate, ANALYSIS_RATE)
    audio = audio32.astype(np.float64)
    duration = len(audio) / ANALYSIS_RATE
    times, f0 = pitch_track(audio32, ANALYSIS_RATE)
    voiced_f0 = f0[f0 > 0]

    sound = parselmouth.Sound(audio, ANALYSIS_RATE)
    intensity = sound.to_intensity(minimum_pitch=100.0, time_step=0.01)
    i_times = np.asarray(intensity.xs(), dtype=np.float64)
    i_db = np.asarray(intensity.values[0], dtype=np.float64)
    speech = _speech_mask(i_times, i_db, times, f0)
    speech_s = float(speech.sum() * 0.01)
    if text:
        units = float(count_units(text))
    else:
        units = _syllables(i_times, i_db, speech, times, f0) * _UNITS_PER_SYLLABLE

    grid = np.arange(int(duration / _FRAME_S) + 1, dtype=np.float64) * _FRAME_S
    f0_grid = _on_grid(times, f0, grid)
    envelope = _envelope_average(audio, ANALYSIS_RATE, f0_grid, grid)
    freqs = np.linspace(0, ANALYSIS_RATE / 2, len(reference))
    if envelope is not None:
        scale, _ = formant_scale_between(envelope, reference, freqs)
        tilt = _tilt(envelope, freqs) - _tilt(reference, freqs)
    else:
        scale, tilt = 1.0, 0.0

    hnr = 0.0
    if len(voiced_f0) >= 20:
        harmonicity = sound.to_harmonicity_ac(time_step=0.01, minimum_pitch=75.0)
        values = np.asarray(harmonicity.values[0])
        values = values[values > -100]
        hnr = float(np.median(values)) if len(values) else 0.0

    if len(voiced_f0) >= 20:
        median = float(np.median(voiced_f0))
        p10, p90 = (float(v) for v in np.percentile(voiced_f0, [10, 90]))
        spread = float(np.std(12 * np.log2(voiced_f0 / median)))
    else:
        median = p10 = p90 = spread = 0.0
    return VoiceMeasurements(
        duration_s=duration,
        speech_s=speech_s,
        voiced_s=float(len(voiced_f0) * _FRAME_S),
        f0_median_hz=median,
        f0_p10_hz=p10,
        f0_p90_hz=p90,
        f0_spread_st=spread,
        formant_scale=scale,
        speech_rate=units / speech_s if speech_s > 0 else 0.0,
        tilt_db_per_octave=tilt,
        hnr_db=hnr,
    )


def distance(a: VoiceMeasurements | dict[str, Any], b: VoiceMeasurements | dict[str, Any]) -> float:
    """How far apart two voices sound, on the measures a listener hears most: pitch (in
    semitones), vocal-tract scale (in semitones of stretch), pace (log ratio, weighted like a
    tenth of an octave) and tilt (per 3 dB/octave)."""
    da = a.as_dict() if isinstance(a, VoiceMeasurements) else a
    db = b.as_dict() if isinstance(b, VoiceMeasurements) else b
    pitch = 12 * np.log2(max(da["f0_median_hz"], 1) / max(db["f0_median_hz"], 1))
    tract = 12 * np.log2(da["formant_scale"] / db["formant_scale"])
    pace = 10 * np.log2(max(da["speech_rate"], 0.1) / max(db["speech_rate"], 0.1))
    tilt = (da["tilt_db_per_octave"] - db["tilt_db_per_octave"]) / 3.0
    return float(np.sqrt(pitch**2 + tract**2 + pace**2 + tilt**2))
