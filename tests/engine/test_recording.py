"""The live call recorder, with real encoding and decoding (PyAV), no mocks."""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from opencharacters.media.recording import (
    AudioMix,
    AudioTrack,
    CallRecorder,
    RecordingError,
    soft_limit,
)

pytestmark = pytest.mark.integration

W, H, FPS, RATE = 160, 96, 25, 48000
BAR = 16


def bar_frame(t: float, duration: float = 3.0) -> np.ndarray[Any, Any]:
    """Dark blue with a red bar whose left edge moves across the frame with time."""
    image = np.zeros((H, W, 3), np.uint8)
    image[..., 2] = 60
    x = bar_x(t, duration)
    image[:, x : x + BAR] = (255, 0, 0)
    return image


def bar_x(t: float, duration: float = 3.0) -> int:
    return int(t / duration * (W - BAR))


def tone(freq: float, rate: int, start: float, seconds: float) -> np.ndarray[Any, Any]:
    t = start + np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def amplitude(samples: np.ndarray[Any, Any], freq: float, rate: int = RATE) -> float:
    """Amplitude of one sine component (windowed correlation)."""
    t = np.arange(len(samples)) / rate
    window = np.hanning(len(samples))
    return float(abs(np.sum(samples * window * np.exp(-2j * np.pi * freq * t))) * 2 / window.sum())


def decode_audio(path: Path) -> tuple[np.ndarray[Any, Any], float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    return samples, float(frames[0].time or 0.0)


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        boxes.append(kind.decode("ascii"))
        if size < 8:
            break
        at += size
    return boxes


def red_bar_left(image: np.ndarray[Any, Any]) -> int:
    red = (image[H // 2, :, 0] > 160) & (image[H // 2, :, 2] < 110)
    return int(np.argmax(red))


async def test_three_second_call_mixes_both_sides_and_keeps_frames_in_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "call.mp4"
    recorder = CallRecorder(path, width=W, height=H, max_queue_s=10.0)
    recorder.start()
    pushed: dict[int, float] = {}  # pts -> timestamp of the frame that should show there
    duplicates = 0
    avatar_rate = 22050
    for i in range(3 * FPS):
        t = i / FPS
        # Missing frames (late or lost) are fine; the previous picture is held.
        if i % 7 != 3:
            recorder.add_video_frame(bar_frame(t), t + 0.003)
            pushed[i] = t
            if i % 10 == 5:  # a repeated timestamp must not break pts order
                recorder.add_video_frame(bar_frame(t), t + 0.01)
                duplicates += 1
        # Avatar TTS: 0.2 s chunks at 22.05 kHz, each handed over two frames after it started
        # playing, after caller chunks stamped later: the sources interleave out of order.
        started = (i - 2) / FPS
        if i >= 2 and (i - 2) % 5 == 0 and started < 1.5:
            seconds = min(0.2, 1.5 - started)
            recorder.add_avatar_audio(
                tone(440, avatar_rate, started, seconds), avatar_rate, started
            )
        for k in (0, 1):
            at = t + k * 0.02
            if 1.0 <= at < 2.5:
                recorder.add_caller_audio(tone(660, RATE, at, 0.02), RATE, at)
        await asyncio.sleep(0)
    info = await recorder.finish(3.0)

    assert info.path == path and path.exists()
    assert not (tmp_path / "call.mp4.part").exists()
    assert info.bytes == path.stat().st_size
    assert info.frames_dropped == 0
    assert info.frames_written == len(pushed)
    assert info.frames_skipped == duplicates
    assert info.duration_s == pytest.approx(3.0)
    assert info.audio_late_s == 0.0

    # Browsers stream it with range requests: the index comes before the media.
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")

    with av.open(str(path)) as container:
        assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert container.duration is not None
        assert abs(container.duration / 1e6 - 3.0) <= 1 / FPS
        frames = list(container.decode(video=0))
    last = frames[-1]
    assert last.time is not None and abs(last.time + 1 / FPS - 3.0) <= 1 / FPS + 1e-6
    times = [f.time for f in frames]
    assert times == sorted(times) and times[0] == 0.0
    for frame in frames:
        slot = round((frame.time or 0.0) * FPS)
        shown = pushed[max(k for k in pushed if k <= slot)]
        assert abs(red_bar_left(frame.to_ndarray(format="rgb24")) - bar_x(shown)) <= 2, slot

    samples, start = decode_audio(path)
    assert start == 0.0
    assert abs(len(samples) / RATE - 3.0) <= 0.03
    assert np.abs(samples).max() <= 1.0

    def window(a: float, b: float) -> np.ndarray[Any, Any]:
        return samples[round(a * RATE) : round(b * RATE)]

    for a, b, avatar, caller in [
        (0.05, 0.95, True, False),
        (1.05, 1.45, True, True),  # the overlap holds both
        (1.55, 2.45, False, True),
        (2.55, 2.95, False, False),
    ]:
        segment = window(a, b)
        for freq, present in ((440, avatar), (660, caller)):
            level = amplitude(segment, freq)
            if present:
                assert 0.35 < level < 0.6, (a, b, freq, level)
            else:
                assert level < 0.02, (a, b, freq, level)

    # Placed at their timestamps: the caller starts at 1.0 s and the avatar stops at 1.5 s.
    def edge(freq: float, rising: bool, near: float) -> float:
        step = 0.005
        grid = np.arange(near - 0.1, near + 0.1, step)
        levels = [amplitude(window(t - 0.01, t + 0.01), freq) for t in grid]
        above = [t for t, level in zip(grid, levels, strict=True) if level > 0.25]
        return float(above[0] if rising else above[-1])

    assert abs(edge(660, True, 1.0) - 1.0) <= 0.02
    assert abs(edge(440, False, 1.5) - 1.5) <= 0.02


async def test_full_size_frames_are_dropped_and_counted_when_the_encoder_is_behind(
    tmp_path: Path,
) -> None:
    width, height = 1088, 704
    path = tmp_path / "busy.mp4"
    recorder = CallRecorder(path, width=width, height=height, max_queue_s=0.01)
    recorder.start()
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (0, 200, 0)
    pushed = 40
    for i in range(pushed):  # much faster than real time, without yielding
        recorder.add_video_frame(image, i / FPS)
    info = await recorder.finish(pushed / FPS)
    assert info.frames_dropped > 0
    assert info.frames_written + info.frames_dropped + info.frames_skipped == pushed
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert (frames[0].width, frames[0].height) == (width, height)
    assert frames[-1].time == pytest.approx((pushed - 1) / FPS)  # last frame held to the end
    rgb = frames[-1].to_ndarray(format="rgb24")
    assert np.abs(rgb[height // 2, width // 4].astype(int) - (0, 200, 0)).max() < 8
    assert rgb[height // 2, 3 * width // 4].max() < 8


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values")
async def test_the_encoder_thread_yields_to_the_call_by_its_niceness(tmp_path: Path) -> None:
    path = tmp_path / "yielding.mp4"
    recorder = CallRecorder(path, width=W, height=H, niceness=7)
    recorder.start()
    (encoder,) = [t for t in threading.enumerate() if t.name == f"recorder-{path.name}"]
    assert encoder.native_id is not None
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = os.getpriority(os.PRIO_PROCESS, encoder.native_id)
    for _ in range(200):  # the thread lowers itself as it starts
        if seen != mine:
            break
        await asyncio.sleep(0.01)
        seen = os.getpriority(os.PRIO_PROCESS, encoder.native_id)
    assert seen == min(19, mine + 7)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # only that thread
    for i in range(FPS):
        recorder.add_video_frame(bar_frame(i / FPS), i / FPS)
    info = await recorder.finish(1.0)
    assert info.frames_written == FPS and info.frames_dropped == 0


async def test_a_call_without_video_records_black_for_its_whole_length(tmp_path: Path) -> None:
    path = tmp_path / "audio_only.mp4"
    recorder = CallRecorder(path, width=W, height=H)  # finish() starts the encoder
    recorder.add_caller_audio(tone(660, 16000, 0.2, 0.5), 16000, 0.2)
    info = await recorder.finish(1.0)
    assert info.frames_written == 0 and info.duration_s == pytest.approx(1.0)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert frames[0].time == 0.0
    assert frames[-1].time == pytest.approx(1.0 - 1 / FPS)
    assert all(f.to_ndarray(format="rgb24").max() < 8 for f in frames)
    samples, _ = decode_audio(path)
    assert abs(len(samples) / RATE - 1.0) <= 0.03
    assert amplitude(samples[round(0.3 * RATE) : round(0.6 * RATE)], 660) > 0.35


async def test_audio_later_than_the_horizon_is_counted_not_mixed(tmp_path: Path) -> None:
    path = tmp_path / "late.mp4"
    recorder = CallRecorder(path, width=W, height=H, audio_horizon_s=0.5)
    recorder.start()
    for i in range(100):  # 2 s of caller audio in 20 ms chunks
        recorder.add_caller_audio(tone(660, RATE, i * 0.02, 0.02), RATE, i * 0.02)
    recorder.add_avatar_audio(tone(440, RATE, 0.2, 0.3), RATE, 0.2)  # long encoded by now
    info = await recorder.finish(2.0)
    assert info.audio_late_s == pytest.approx(0.3, abs=0.01)
    samples, _ = decode_audio(path)
    assert amplitude(samples[round(0.25 * RATE) : round(0.45 * RATE)], 440) < 0.02


def test_abort_deletes_the_file_and_finish_then_fails(tmp_path: Path) -> None:
    path = tmp_path / "aborted.mp4"
    recorder = CallRecorder(path, width=W, height=H)
    recorder.start()
    for i in range(10):
        recorder.add_video_frame(bar_frame(i / FPS), i / FPS)
        recorder.add_caller_audio(tone(660, RATE, i / FPS, 1 / FPS), RATE, i / FPS)
    recorder.abort()
    assert not path.exists()
    recorder.join(5)
    assert list(tmp_path.iterdir()) == []
    recorder.add_video_frame(bar_frame(0.5), 0.5)  # ignored, no error
    with pytest.raises(RecordingError):
        asyncio.run(recorder.finish(1.0))

    finished = tmp_path / "finished.mp4"
    recorder = CallRecorder(finished, width=W, height=H)
    recorder.start()
    recorder.add_video_frame(bar_frame(0.0), 0.0)
    asyncio.run(recorder.finish(0.2))
    assert finished.exists()
    recorder.abort()
    assert not finished.exists()


def test_mix_adds_overlaps_keeps_gaps_silent_and_counts_late_samples() -> None:
    mix = AudioMix(capacity=8)
    mix.add(2, np.ones(4, np.float32))
    mix.add(4, np.full(10, 0.5, np.float32))  # grows past the capacity
    assert mix.take(6).tolist() == [0, 0, 1, 1, 1.5, 1.5]
    mix.add(3, np.ones(5, np.float32))  # 3 of these 5 are already taken
    assert mix.late_samples == 3
    assert mix.take(20).tolist() == [1.5, 1.5, *[0.5] * 6, *[0.0] * 6]
    assert mix.take(20).tolist() == []


def test_soft_limit_is_exact_when_quiet_and_never_reaches_full_scale() -> None:
    quiet = np.linspace(-0.7, 0.7, 101, dtype=np.float32)
    assert np.array_equal(soft_limit(quiet), quiet)
    loud = np.linspace(-3, 3, 1001, dtype=np.float32)
    limited = soft_limit(loud)
    assert np.abs(limited).max() <= 1.0
    two_full_voices, one_and_a_half = soft_limit(np.array([1.0, 1.5], np.float32)).tolist()
    assert two_full_voices < 0.95 and one_and_a_half < 1.0
    assert np.all(np.diff(limited) >= 0)  # monotonic: no fold-over distortion


def test_contiguous_chunks_resample_seamlessly_and_jitter_is_absorbed() -> None:
    """16 kHz 20 ms chunks with jittery timestamps make one clean 48 kHz sine."""
    mix = AudioMix(capacity=RATE)
    track = AudioTrack(RATE, tolerance_s=0.06)
    rng = np.random.default_rng(0)
    rate_in = 16000
    whole = tone(300, rate_in, 0.0, 1.0)
    for i in range(50):
        jitter = float(rng.uniform(-0.03, 0.03)) if i else 0.0
        track.add(whole[i * 320 : (i + 1) * 320], rate_in, 0.5 + i * 0.02 + jitter, mix)
    track.flush(mix)
    out = mix.take(round(1.6 * RATE))
    clean = out[round(0.52 * RATE) : round(1.48 * RATE)]
    expected = tone(300, RATE, 0.02, 0.96)
    assert np.abs(clean - expected).max() < 0.01
    assert np.abs(out[: round(0.49 * RATE)]).max() == 0.0

    # Beyond the tolerance, a chunk goes where its timestamp says, adding to what is there.
    track.add(np.full(9600, 0.25, np.float32), RATE, 2.0, mix)  # 2.0 to 2.2 s
    track.add(np.full(9600, 0.25, np.float32), RATE, 2.1, mix)  # 0.1 s before its end
    rest = mix.take(round(2.4 * RATE))
    at = round(1.6 * RATE)
    assert rest[round(2.05 * RATE) - at] == 0.25
    assert rest[round(2.15 * RATE) - at] == 0.5
    assert rest[round(2.25 * RATE) - at] == 0.25


_CRASHING_RECORDER = """
import asyncio, os, signal, sys, time
import numpy as np
from pathlib import Path
from opencharacters.media.recording import CallRecorder

async def main() -> None:
    recorder = CallRecorder(Path(sys.argv[1]), width=320, height=240, fps=25)
    recorder.start()
    for i in range(100):  # 4 s of call, then killed before finish()
        image = np.full((240, 320, 3), (i * 2) % 255, np.uint8)
        recorder.add_video_frame(image, i / 25)
        tone = np.sin(np.arange(1920) * 2 * np.pi * 440 / 48000).astype(np.float32) * 0.3
        recorder.add_avatar_audio(tone, 48000, i / 25)
        await asyncio.sleep(0.01)
    time.sleep(1.5)  # the encoder thread writes what it has
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_a_recording_cut_by_a_crash_is_salvaged_up_to_its_last_second(tmp_path: Path) -> None:
    import subprocess
    import sys

    from opencharacters.media.recording import partial_path, salvage

    path = tmp_path / "crashed.mp4"
    killed = subprocess.run([sys.executable, "-c", _CRASHING_RECORDER, str(path)], check=False)
    assert killed.returncode == -9
    partial = partial_path(path)
    assert partial.exists() and not path.exists()
    target = tmp_path / "salvaged.mp4"
    duration = salvage(partial, target)
    assert not partial.exists()
    assert 1.5 <= duration <= 4.1, duration  # fragments of about a second; the rest is lost
    assert top_level_boxes(target).index("moov") < top_level_boxes(target).index("mdat")
    with av.open(str(target)) as container:
        assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]
        times = [float(frame.time or 0) for frame in container.decode(video=0)]
    assert times[0] == 0.0 and times == sorted(times)
    samples, start = decode_audio(target)
    assert start == 0.0 and np.abs(samples).max() > 0.1


def test_salvaging_an_empty_partial_file_says_so(tmp_path: Path) -> None:
    from opencharacters.media.recording import salvage

    partial = tmp_path / "nothing.mp4.part"
    partial.write_bytes(b"")
    with pytest.raises(ValueError, match="no playable media"):
        salvage(partial, tmp_path / "nothing.mp4")
    assert not partial.exists() and not (tmp_path / "nothing.mp4").exists()
