"""The small set of numbers that drives one rendered frame."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np


@dataclass(frozen=True, slots=True)
class FaceParams:
    """0 is the neutral reference image for every field. Ranges in the comments."""

    jaw: float = 0.0  # 0..1 mouth opening by the jaw
    round: float = 0.0  # 0..1 lip rounding (oo, w)
    spread: float = 0.0  # 0..1 lip spreading (ee)
    close: float = 0.0  # 0..1 lips pressed together (m, b, p)
    upper_lift: float = 0.0  # 0..1 upper lip raised (f, v, sh)
    smile: float = 0.0  # 0..1
    blink: float = 0.0  # 0..1 both upper lids; 1 = shut
    brow: float = 0.0  # -1..1 brow lowered / raised
    gaze_x: float = 0.0  # -1..1 irises to the image left / right
    gaze_y: float = 0.0  # -1..1 up / down
    yaw: float = 0.0  # -1..1 head turned to the image left / right
    pitch: float = 0.0  # -1..1 head up / down
    roll: float = 0.0  # -1..1 head tilted
    breath: float = 0.0  # -1..1 chest and head rise

    def plus(self, other: FaceParams, weight: float = 1.0) -> FaceParams:
        return FaceParams(
            *(getattr(self, f.name) + weight * getattr(other, f.name) for f in fields(self))
        )

    def clipped(self) -> FaceParams:
        values = {
            f.name: float(np.clip(getattr(self, f.name), *RANGES[f.name])) for f in fields(self)
        }
        return replace(self, **values)

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


NEUTRAL = FaceParams()
PARAM_NAMES = tuple(f.name for f in fields(FaceParams))
_SIGNED = {"brow", "gaze_x", "gaze_y", "yaw", "pitch", "roll", "breath"}
RANGES: dict[str, tuple[float, float]] = {
    name: (-1.0, 1.0) if name in _SIGNED else (0.0, 1.0) for name in PARAM_NAMES
}
