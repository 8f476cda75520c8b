"""Voice activity: Silero's ONNX model run directly with onnxruntime (no torch), 16 kHz."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from opencharacters.media.audio import Samples

VAD_SAMPLE_RATE = 16_000
VAD_FRAME_SAMPLES = 512
"""Silero v5+ at 16 kHz takes exactly 512 new samples (32 ms) per call."""
_CONTEXT_SAMPLES = 64


@cache
def _session(model_path: Path, threads: int) -> ort.InferenceSession:
    """One onnxruntime session per process: the recurrent state lives in our arrays, not in the
    session, and `run` is thread-safe, so every stream can share it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


class SileroVad:
    """Speech probability per 32 ms frame. Stateful (the model is recurrent): one per stream."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self._session = _session(model_path, threads)
        self._sample_rate = np.array(VAD_SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT_SAMPLES), dtype=np.float32)

    def probability(self, frame: Samples) -> float:
        if frame.shape != (VAD_FRAME_SAMPLES,):
            raise ValueError(f"a VAD frame is {VAD_FRAME_SAMPLES} samples, got {frame.shape}")
        # The model expects the previous call's last 64 samples in front of the new frame.
        x = np.concatenate([self._context, frame.reshape(1, -1).astype(np.float32)], axis=1)
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sample_rate}
        )
        self._context = x[:, -_CONTEXT_SAMPLES:]
        return float(out[0, 0])
