"""The live call recorder: x264 cost per 1088x704 frame, and a real-time call recorded on the loop.

1. Encoder settings: rendered avatar frames (the astronaut, talking) through the recorder's
   MP4 writer, one x264 thread: wall and thread-CPU ms per frame (RGB -> I420 conversion, x264,
   mux) and the bitrate, per preset and CRF.
2. A live call: an asyncio loop pushes frames at 25 fps on a real clock, avatar TTS chunks and
   20 ms caller packets into a CallRecorder with its defaults. Reported: frames dropped, encoder
   ms per frame, process CPU, how late the loop's 40 ms ticks wake (with and without the
   recorder, just before and after), the slowest add_* call, finish() time and the file size.

    PYTHONPATH=src .venv/bin/python bench/recording_bench.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import load_average, write_results  # noqa: E402
from opencharacters.animation.rig import prepare  # noqa: E402
from opencharacters.animation.stream import FaceAnimator  # noqa: E402
from opencharacters.animation.sync import syllables  # noqa: E402
from opencharacters.media.audio import AudioChunk  # noqa: E402
from opencharacters.media.mp4 import H264Settings, Mp4Writer  # noqa: E402
from opencharacters.media.recording import CallRecorder  # noqa: E402

FPS = 25
SETTINGS = [(preset, crf) for preset in ("ultrafast", "superfast", "veryfast") for crf in (23, 26)]


def avatar_frames(count: int) -> list[np.ndarray[Any, Any]]:
    """Talking-face frames at 1088x704, RGB (the renderer's own output is BGR)."""
    image = cv2.imread(str(ROOT / "tests" / "assets" / "astronaut.jpg"))
    animator = FaceAnimator(prepare(image), fps=FPS)
    animator.push_audio(AudioChunk(syllables(count / FPS, 16000), 16000, 0.0))
    return [cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB) for f in animator.frames_for(count / FPS)]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def encode_settings(frames: list[np.ndarray[Any, Any]], folder: Path) -> list[dict[str, Any]]:
    height, width = frames[0].shape[:2]
    rows = []
    for preset, crf in SETTINGS:
        path = folder / f"{preset}_{crf}.mp4"
        writer = Mp4Writer(
            path,
            width=width,
            height=height,
            fps=FPS,
            audio_rate=48000,
            video=H264Settings(preset=preset, crf=crf, threads=1),
        )
        wall, cpu = [], []
        for index, frame in enumerate(frames):
            started, started_cpu = time.perf_counter(), time.thread_time()
            writer.write_video(frame, index)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
        writer.close()
        rows.append(
            {
                "preset": preset,
                "crf": crf,
                "wall_ms_p50": pct(wall, 50),
                "wall_ms_p95": pct(wall, 95),
                "cpu_ms_mean": round(float(np.mean(cpu)), 2),
                "kbit_s": round(path.stat().st_size * 8 / (len(frames) / FPS) / 1000),
            }
        )
    return rows


async def live_call(
    frames: list[np.ndarray[Any, Any]], seconds: float, path: Path | None
) -> dict[str, Any]:
    """Real-time pushes on the loop; `path` None measures the loop without a recorder."""
    height, width = frames[0].shape[:2]
    recorder = CallRecorder(path, width=width, height=height) if path else None
    if recorder:
        recorder.start()
    voice = (0.3 * syllables(0.2, 22050)).astype(np.float32)
    mic = (0.05 * np.sin(2 * np.pi * 200 * np.arange(960) / 48000)).astype(np.float32)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    lateness, calls = [], []
    cpu_before, wall_before = os.times(), time.perf_counter()
    for index in range(round(seconds * FPS)):
        due = begin + index / FPS
        await asyncio.sleep(max(0.0, due - loop.time()))
        now = loop.time() - begin
        lateness.append((now - index / FPS) * 1000)
        if recorder is None:
            continue
        t = index / FPS
        started = time.perf_counter()
        recorder.add_video_frame(frames[index % len(frames)], t)
        if index % 5 == 0 and (index // 50) % 2 == 0:  # the avatar talks every other 2 s
            recorder.add_avatar_audio(voice, 22050, t)
        recorder.add_caller_audio(mic, 48000, t)
        recorder.add_caller_audio(mic, 48000, t + 0.02)
        calls.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        "loop_late_ms_p50": pct(lateness, 50),
        "loop_late_ms_p99": pct(lateness, 99),
        "loop_late_ms_max": round(max(lateness), 2),
    }
    if recorder is None:
        return result
    started = time.perf_counter()
    info = await recorder.finish(seconds)
    finish_s = time.perf_counter() - started
    cpu_after, wall = os.times(), time.perf_counter() - wall_before
    cpu = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
    return {
        **result,
        "add_calls_ms_p99": pct(calls, 99),
        "add_calls_ms_max": round(max(calls), 3),
        "frames_written": info.frames_written,
        "frames_dropped": info.frames_dropped,
        "encode_ms_p50": info.encode_ms_p50,
        "encode_ms_p95": info.encode_ms_p95,
        "encode_cpu_ms_mean": info.encode_cpu_ms_mean,
        "process_cpu_percent": round(100 * cpu / wall),
        "finish_s": round(finish_s, 3),
        "kbit_s": round(info.bytes * 8 / seconds / 1000),
        "megabytes_per_30_min": round(info.bytes / seconds * 1800 / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--frames", type=int, default=250, help="rendered frames to cycle")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core per session is the budget
    load_at_start = load_average()
    frames = avatar_frames(args.frames)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = encode_settings(frames, folder)
        # The box is shared: measure the bare loop just before and just after the call.
        before = asyncio.run(live_call(frames, 5.0, None))
        live = asyncio.run(live_call(frames, args.seconds, folder / "call.mp4"))
        after = asyncio.run(live_call(frames, 5.0, None))

    print("1088x704 avatar frames, one x264 thread (conversion + encode + mux per frame):")
    header = ("preset", "crf", "wall p50", "wall p95", "cpu mean", "kbit/s")
    print("".join(f"{h:>11}" for h in header))
    for row in settings:
        cells = (
            row["preset"],
            row["crf"],
            f"{row['wall_ms_p50']:.2f}ms",
            f"{row['wall_ms_p95']:.2f}ms",
            f"{row['cpu_ms_mean']:.2f}ms",
            row["kbit_s"],
        )
        print("".join(f"{c:>11}" for c in cells))
    print(f"\nlive call, {args.seconds:.0f} s at {FPS} fps with the recorder's defaults:")
    for key, value in live.items():
        print(f"  {key:>24}: {value}")
    for name, bare in (("before", before), ("after", after)):
        print(
            f"  {'bare loop ' + name:>24}: late p99 {bare['loop_late_ms_p99']} ms,"
            f" max {bare['loop_late_ms_max']} ms"
        )
    write_results(
        "recording",
        {
            "frame_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
            "settings": settings,
            "live_call": live,
            "loop_without_recorder": {"before": before, "after": after},
            "load_average_at_start": load_at_start,
        },
    )


if __name__ == "__main__":
    main()
