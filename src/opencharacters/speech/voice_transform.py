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
    audio: _Floats,
    sample_rate: int,
    ceiling_hz: float = 300.0,
    clamp_around_hz: float | None = None,
) -> tuple[_Floats, _Floats]:
    """F0 per 5 ms frame (0 = unvoiced) and the frame times. Octave jumps are clamped around
    `clamp_around_hz`, by default the median of the voiced frames."""
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
        median = clamp_around_hz or float(np.median(f0[voiced]))
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
    user's Piper voice is measured, see speech/piper_voices.py). The result peaks at 0.9."""
    if design.f0_hz is None or len(samples) < sample_rate // 50:
        return samples
    audio = samples.astype(np.float64)
    f0, times = source_pitch(audio, sample_rate, _ceiling(source_f0_hz))
    out = _resynthesize(audio, f0, times, sample_rate, design, source_f0_hz)[: len(samples)]
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    if peak > 0:
        out = out * (0.9 / peak)
    result: Samples = out.astype(np.float32)
    return result


def _ceiling(source_f0_hz: float) -> float:
    # joe's ceiling of 300 Hz would cut the top of a higher base voice's intonation.
    return max(300.0, 2.0 * source_f0_hz)


def _resynthesize(
    audio: _Floats,
    f0: _Floats,
    times: _Floats,
    sample_rate: int,
    design: VoiceDesign,
    source_f0_hz: float,
) -> _Floats:
    """WORLD analysis of `audio` on the pitch track `f0`, the design's changes, resynthesis."""
    assert design.f0_hz is not None
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
    return np.asarray(out, dtype=np.float64)


class TransformStream:
    """The transform for a sentence that arrives a piece at a time (speech/piper_stream.py).

    WORLD's analysis looks a few tens of milliseconds either side of each frame, and its
    resynthesis lays one pulse per pitch period from where it starts, so pieces resynthesized
    apart would not meet cleanly in the middle of a vowel. A piece therefore ends in the middle
    of an unvoiced stretch (a pause, a plosive's closure, an "s"), where the output is noise
    alone, each piece is analysed with context from the audio around it, and the two pieces
    cross-fade over a few milliseconds there. The level is a fixed `gain` (a whole sentence's
    peak is not known until its end), with a soft limit near full scale."""

    CONTEXT_S = 0.06
    """Audio analysed beyond a piece's ends: covers the pitch tracker's 3 periods of 60 Hz."""
    MIN_UNVOICED_S = 0.015
    CROSSFADE_S = 0.005
    MIN_PIECE_S = 0.3

    def __init__(
        self, sample_rate: int, design: VoiceDesign, source_f0_hz: float, gain: float
    ) -> None:
        self._rate = sample_rate
        self._design = design
        self._source_f0 = source_f0_hz
        self._gain = gain
        self._raw = np.zeros(0, dtype=np.float64)
        self._origin = 0
        """The sentence's sample index of `_raw[0]` (audio long emitted is dropped)."""
        self._emitted = 0
        self._tail = np.zeros(0, dtype=np.float64)
        """Resynthesized audio just after the last cut, to cross-fade the next piece into."""
        self._context = round(self.CONTEXT_S * sample_rate)
        self._fade = round(self.CROSSFADE_S * sample_rate)

    def push(self, samples: Samples) -> Samples:
        """The transformed audio up to the latest good cut (often nothing yet)."""
        self._raw = np.concatenate([self._raw, samples.astype(np.float64)])
        if self._design.f0_hz is None:
            return self._emit_untransformed(self._origin + len(self._raw))
        start, audio, f0, times = self._analysis()
        cut = self._cut(f0, start, start + len(audio))
        if cut is None:
            return np.zeros(0, dtype=np.float32)
        return self._emit(cut, start, audio, f0, times)

    def finish(self) -> Samples:
        """Everything not yet given back."""
        end = self._origin + len(self._raw)
        if end <= self._emitted:
            return np.zeros(0, dtype=np.float32)
        if self._design.f0_hz is None or end < self._rate // 50:
            return self._emit_untransformed(end)
        return self._emit(end, *self._analysis())

    def _analysis(self) -> tuple[int, _Floats, _Floats, _Floats]:
        """What is not given back yet, from `CONTEXT_S` before it: (its sentence index, the
        audio, its pitch track, the frame times)."""
        start = max(0, self._emitted - self._context)
        audio = self._raw[start - self._origin :]
        f0, times = source_pitch(audio, self._rate, _ceiling(self._source_f0), self._source_f0)
        return start, audio, f0, times

    def _cut(self, f0: _Floats, start: int, available: int) -> int | None:
        """The middle of an unvoiced stretch that leaves a long enough piece and enough audio
        after it for the analysis: for the first piece the earliest (it is waited for), then
        the latest (fewer pieces, less audio analysed twice)."""
        frame = self._rate * _FRAME_PERIOD_MS / 1000
        need = max(1, round(self.MIN_UNVOICED_S * 1000 / _FRAME_PERIOD_MS))
        earliest = self._emitted + self.MIN_PIECE_S * self._rate
        latest = available - self._context
        edges = np.flatnonzero(np.diff(np.concatenate([[0], (f0 == 0).astype(np.int8), [0]])))
        cuts = [
            start + round(float(first + stop - 1) / 2 * frame)
            for first, stop in zip(edges[::2], edges[1::2], strict=True)
            if stop - first >= need
        ]
        fitting: list[int] = [int(cut) for cut in cuts if earliest <= cut <= latest]
        if not fitting:
            return None
        return fitting[0] if self._emitted == 0 else fitting[-1]

    def _emit(self, cut: int, start: int, audio: _Floats, f0: _Floats, times: _Floats) -> Samples:
        assert self._design.f0_hz is not None
        final = cut >= self._origin + len(self._raw)
        # Frames through the cut plus context (and the cross-fade after it).
        frame = self._rate * _FRAME_PERIOD_MS / 1000
        keep_frames = (
            len(f0) if final else min(len(f0), int((cut - start + self._context) / frame) + 1)
        )
        analysed = audio[: min(len(audio), round(keep_frames * frame))]
        out = _resynthesize(
            analysed,
            f0[:keep_frames],
            times[:keep_frames],
            self._rate,
            self._design,
            self._source_f0,
        )
        need = cut - start + (0 if final else self._fade)
        if len(out) < need:
            out = np.concatenate([out, np.zeros(need - len(out))])
        piece = out[self._emitted - start : cut - start].copy()
        if len(self._tail):
            n = min(len(self._tail), len(piece))
            ramp = np.linspace(0.0, 1.0, n, endpoint=False)
            piece[:n] = self._tail[:n] * (1.0 - ramp) + piece[:n] * ramp
        self._tail = (
            out[cut - start : cut - start + self._fade].copy() if not final else self._tail[:0]
        )
        return self._advance(cut, piece)

    def _emit_untransformed(self, cut: int) -> Samples:
        return self._advance(
            cut, self._raw[self._emitted - self._origin : cut - self._origin].copy()
        )

    def _advance(self, cut: int, piece: _Floats) -> Samples:
        self._emitted = cut
        # Keep what the next piece's analysis looks back at.
        drop = max(0, cut - self._context - self._origin)
        self._raw = self._raw[drop:]
        self._origin += drop
        return soft_limit(piece * self._gain)


def soft_limit(audio: _Floats, knee: float = 0.85) -> Samples:
    """Unchanged below `knee`; above it, bent smoothly towards full scale instead of clipping."""
    magnitude = np.abs(audio)
    over = magnitude > knee
    if over.any():
        bent = knee + (1.0 - knee) * np.tanh((magnitude[over] - knee) / (1.0 - knee))
        audio = audio.copy()
        audio[over] = np.sign(audio[over]) * bent
    result: Samples = audio.astype(np.float32)
    return result
