"""Audio as the stages pass it around: mono float32 samples with an explicit rate and timestamp."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    samples: Samples
    """Mono, float32 in [-1, 1]."""
    sample_rate: int
    timestamp_s: float = 0.0
    """Start of the chunk on the session clock."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def resample(samples: Samples, rate_in: int, rate_out: int) -> Samples:
    """Band-limited resampling of a whole clip (FFT: no aliasing, exact length ratio)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    n_out = round(len(samples) * rate_out / rate_in)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    n_bins = n_out // 2 + 1
    if n_bins <= len(spectrum):
        spectrum = spectrum[:n_bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(n_bins - len(spectrum), complex)])
    out = np.fft.irfft(spectrum, n_out) * (n_out / len(samples))
    return out.astype(np.float32)


def mono_frame(samples: Samples, sample_rate: int, pts: int, sample_format: str) -> av.AudioFrame:
    """One PyAV audio frame of mono float samples (`flt` or planar `fltp`), timed in samples."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
        format=sample_format,
        layout="mono",
    )
    frame.sample_rate = sample_rate
    frame.pts = pts
    return frame


class StreamResampler:
    """Resamples audio that arrives in pieces with no seams between them (libswresample keeps
    its filter's history from one piece to the next); `flush()` gives the last few samples the
    filter still holds."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._rate_in = rate_in
        self._resampler = (
            None
            if rate_in == rate_out
            else av.AudioResampler(format="flt", layout="mono", rate=rate_out)
        )
        self._pts = 0

    def push(self, samples: Samples) -> Samples:
        if self._resampler is None or len(samples) == 0:
            return samples.astype(np.float32, copy=False)
        frame = mono_frame(samples, self._rate_in, self._pts, "flt")
        self._pts += len(samples)
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> Samples:
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> Samples:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        out = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
        return out.astype(np.float32, copy=False)


def int16_to_float(pcm: npt.NDArray[np.int16] | bytes) -> Samples:
    array = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm
    return (array.astype(np.float32) / 32768.0).astype(np.float32)


def float_to_int16(samples: Samples) -> npt.NDArray[np.int16]:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def wav_bytes(samples: Samples, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(float_to_int16(samples).tobytes())
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[Samples, int]:
    """Mono 16-bit PCM WAV (the other widths are not used by this product)."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV is supported")
        frames = wav.readframes(wav.getnframes())
        channels = wav.getnchannels()
        rate = wav.getframerate()
    pcm = np.frombuffer(frames, dtype=np.int16)
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return int16_to_float(pcm), rate


def read_audio(path: Path) -> AudioChunk:
    """Any file FFmpeg reads (WAV at any rate included), mixed to mono float32 at its own rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return AudioChunk(samples, rate, 0.0)
