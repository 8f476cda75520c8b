"""What the face does when nobody is talking: blinks, small head motion, breathing, glances.

Deterministic for a given seed so tests and contact sheets are reproducible."""

from __future__ import annotations

import numpy as np

from opencharacters.animation.params import FaceParams

BLINK_S = 0.16


class IdleMotion:
    def __init__(self, seed: int = 0, horizon_s: float = 3600.0) -> None:
        rng = np.random.default_rng(seed)
        # Blinks every 2 to 6 s (people blink 15 to 20 times a minute when attentive).
        gaps = rng.uniform(2.0, 6.0, size=int(horizon_s / 2) + 1)
        self._blinks = np.cumsum(gaps) - 1.0
        glances = rng.uniform(1.0, 3.5, size=int(horizon_s) + 1)
        self._glance_times = np.cumsum(glances)
        self._glance_targets = rng.uniform(-0.35, 0.35, size=(len(glances), 2))
        self._phases = rng.uniform(0, 2 * np.pi, size=6)

    def at(self, time_s: float) -> FaceParams:
        index = int(np.searchsorted(self._blinks, time_s)) - 1
        blink = 0.0
        if index >= 0:
            into = (time_s - self._blinks[index]) / BLINK_S
            if 0.0 <= into <= 1.0:
                blink = float(np.sin(np.pi * into) ** 0.7)
        glance = int(np.searchsorted(self._glance_times, time_s)) - 1
        gaze = self._glance_targets[glance] if glance >= 0 else np.zeros(2)
        p = self._phases
        return FaceParams(
            blink=blink,
            gaze_x=float(gaze[0]),
            gaze_y=float(gaze[1]) * 0.5,
            yaw=0.18 * np.sin(2 * np.pi * 0.11 * time_s + p[0])
            + 0.06 * np.sin(2 * np.pi * 0.37 * time_s + p[1]),
            pitch=0.12 * np.sin(2 * np.pi * 0.08 * time_s + p[2]),
            roll=0.1 * np.sin(2 * np.pi * 0.06 * time_s + p[3]),
            breath=0.5 * np.sin(2 * np.pi * 0.25 * time_s + p[4]),
            brow=0.1 + 0.08 * np.sin(2 * np.pi * 0.05 * time_s + p[5]),
            smile=0.1,
        )
