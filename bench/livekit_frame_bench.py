"""The LiveKit adapter's per-frame work: a rendered BGR frame (1088x704) into the RGBA buffer a
`livekit.rtc.VideoFrame` carries. Old (convert, then `tobytes()` copy) and new (convert straight
into the frame's buffer) interleaved in one run.

    .venv/bin/python bench/livekit_frame_bench.py
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from common import write_results
from opencharacters.engine.live.livekit_media import rgba_buffer

WIDTH, HEIGHT, ROUNDS, FRAMES = 1088, 704, 5, 200


def old(image: np.ndarray) -> bytes:
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGBA).tobytes()


def main() -> None:
    image = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    assert bytes(rgba_buffer(image)) == old(image)
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(ROUNDS):
        for name, convert in (("old", old), ("new", rgba_buffer)):
            started = time.perf_counter()
            for _ in range(FRAMES):
                convert(image)
            times[name].append((time.perf_counter() - started) / FRAMES * 1000)
    for name, values in times.items():
        print(f"{name}: {statistics.median(values):.3f} ms per frame (median of {ROUNDS} rounds)")
    write_results("livekit_frame", {k: {"msPerFrame": v} for k, v in times.items()})


if __name__ == "__main__":
    main()
