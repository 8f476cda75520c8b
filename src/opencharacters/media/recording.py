"""The live call recorder: avatar video plus both sides' audio, mixed, into one MP4.

Callers (the session worker on the event loop, or any other thread) only enqueue; one
background thread owns the PyAV container and does all conversion, mixing and encoding.

Timeline: 0 is the session clock's start. Video pts come from the frame timestamps on a 1/fps
grid; a frame landing in the same slot as an earlier one (or before it) is skipped, missing
frames just hold the previous picture longer. The first frame is shown from 0 (whatever its
timestamp), the last one is held to the end. A call with no video at all records black.

Audio: each source's chunks are resampled to `audio_rate` and placed on one sample grid by their
timestamps. A chunk that starts within `continuity_tolerance_s` of where the same source's
previous chunk ended is appended seamlessly (timestamps of received audio jitter); otherwise it
is placed at its own timestamp, adding to whatever is there. The two sources are summed and
soft-limited. Samples are encoded once the newest timestamp seen (audio or video) is
`audio_horizon_s` past them; audio arriving after its place was encoded is lost and counted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from opencharacters.media.mp4 import H264Settings, Mp4Writer, PixelFormat, remux_progressive
from opencharacters.thread_priority import lower_thread

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]


class RecordingError(RuntimeError):
    """The recording failed (encoder or disk error) or was aborted; no file is left."""


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    path: Path
    duration_s: float
    """The file's length: the `duration_s` given to finish(), or more if frames or audio past it
    had already been encoded."""
    frames_written: int
    """Pushed frames that were encoded (the black stand-in and the held last frame not counted)."""
    frames_dropped: int
    """Pushed frames dropped because the encoder was more than `max_queue_s` behind."""
    bytes: int
    frames_skipped: int = 0
    """Pushed frames not encoded because their 1/fps slot already had a frame, or (at finish)
    because they lay past the end."""
    audio_late_s: float = 0.0
    """Audio (both sources together) that arrived after its place had been encoded, and was lost."""
    encode_ms_p50: float = 0.0
    """Encoder-thread wall time per video frame (colour conversion + x264 + mux), recent frames."""
    encode_ms_p95: float = 0.0
    encode_cpu_ms_mean: float = 0.0
    """Encoder-thread CPU time per video frame (x264 runs in that thread), all frames."""


@dataclass(frozen=True, slots=True)
class _Video:
    image: npt.NDArray[np.uint8]
    timestamp_s: float


@dataclass(frozen=True, slots=True)
class _Audio:
    source: int
    samples: Samples
    sample_rate: int
    timestamp_s: float


@dataclass(frozen=True, slots=True)
class _Finish:
    duration_s: float


class _Abort:
    pass


_AVATAR, _CALLER = 0, 1
_KNEE = 0.75
"""The limiter is exact up to this level and bends the rest smoothly towards full scale."""


def soft_limit(samples: Samples, knee: float = _KNEE) -> Samples:
    """Identity below `knee`; above it tanh-compressed so |output| stays below 1."""
    out = samples.astype(np.float32, copy=True)
    loud = np.abs(out) > knee
    if loud.any():
        over = np.abs(out[loud]) - knee
        head = 1.0 - knee
        out[loud] = np.sign(out[loud]) * (knee + head * np.tanh(over / head))
    return out


class AudioMix:
    """A sliding window of the mixed track: adds at absolute sample positions, hands out the
    oldest samples. Memory is the span between what was taken and the furthest write."""

    def __init__(self, capacity: int) -> None:
        self._initial = max(1, capacity)
        self._buffer = np.zeros(self._initial, np.float32)
        self.base = 0
        """Absolute position of _buffer[0]: everything before it has been taken."""
        self.end = 0
        """Absolute end of the furthest write (>= base)."""
        self.late_samples = 0

    def add(self, position: int, samples: Samples) -> None:
        if position < self.base:
            cut = min(len(samples), self.base - position)
            self.late_samples += cut
            samples, position = samples[cut:], self.base
        if len(samples) == 0:
            return
        start, stop = position - self.base, position - self.base + len(samples)
        if stop > len(self._buffer):
            grown = np.zeros(max(stop, 2 * len(self._buffer)), np.float32)
            used = self.end - self.base
            grown[:used] = self._buffer[:used]
            self._buffer = grown
        self._buffer[start:stop] += samples
        self.end = max(self.end, position + len(samples))

    def take(self, until: int) -> Samples:
        """Samples from `base` to `until` (silence where nothing was added), then forgets them."""
        count = until - self.base
        if count <= 0:
            return np.zeros(0, np.float32)
        used = self.end - self.base
        out = np.zeros(count, np.float32)
        have = min(count, used)
        out[:have] = self._buffer[:have]
        keep = max(0, used - count)
        if keep:
            self._buffer[:keep] = self._buffer[count : count + keep]
        self._buffer[keep:used] = 0.0
        if len(self._buffer) > 4 * self._initial and keep < len(self._buffer) // 4:
            smaller = np.zeros(max(self._initial, 2 * keep), np.float32)
            smaller[:keep] = self._buffer[:keep]
            self._buffer = smaller
        self.base = until
        self.end = max(self.end, until)
        return out


class AudioTrack:
    """One side's audio: chunks resampled (swresample, stateful across contiguous chunks) and
    placed on the mix grid."""

    def __init__(self, rate: int, tolerance_s: float) -> None:
        self.rate = rate
        self.tolerance_s = tolerance_s
        self._rate_in = 0
        self._resampler: Any = None
        self._anchor_s = 0.0
        self._anchor = 0
        self._fed = 0
        self._produced = 0

    @property
    def active(self) -> bool:
        return self._rate_in > 0

    def expected_s(self) -> float:
        """Where the next contiguous chunk would start (session seconds)."""
        return self._anchor_s + self._fed / self._rate_in if self._rate_in else -math.inf

    def add(self, samples: Samples, sample_rate: int, timestamp_s: float, mix: AudioMix) -> None:
        contiguous = (
            sample_rate == self._rate_in
            and abs(timestamp_s - self.expected_s()) <= self.tolerance_s
        )
        if not contiguous:
            self.flush(mix)
            self._rate_in = sample_rate
            self._anchor_s, self._anchor = timestamp_s, round(timestamp_s * self.rate)
            self._fed = self._produced = 0
            if sample_rate != self.rate:
                self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        self._fed += len(samples)
        if self._resampler is None:
            self._place(samples, mix)
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = sample_rate
        for out in self._resampler.resample(frame):
            self._place(out.to_ndarray().reshape(-1), mix)

    def flush(self, mix: AudioMix) -> None:
        """Places what the resampler holds back and ends contiguity."""
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                self._place(out.to_ndarray().reshape(-1), mix)
            self._resampler = None
        self._rate_in = 0

    def holds_back(self) -> bool:
        return self._resampler is not None

    def _place(self, samples: Samples, mix: AudioMix) -> None:
        mix.add(self._anchor + self._produced, samples.astype(np.float32, copy=False))
        self._produced += len(samples)


class CallRecorder:
    """Records a live call into an MP4 (H.264 + AAC mono, moov first).

    Thread-safe: the add_* methods may be called from any thread; they only enqueue and never
    block. The file is written as `<path>.part`, a fragmented MP4 flushed about every second (a
    process killed mid-call leaves it playable up to then: `salvage` makes it a recording), and
    remuxed to `path` when finished, so `path` only ever holds a complete recording."""

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: int = 25,
        audio_rate: int = 48000,
        max_queue_s: float = 2.0,
        pixel_format: PixelFormat = "rgb24",
        audio_horizon_s: float = 1.0,
        continuity_tolerance_s: float = 0.06,
        video: H264Settings | None = None,
        niceness: int = 0,
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"H.264 4:2:0 needs an even frame size, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height, self.fps, self.audio_rate = width, height, fps, audio_rate
        self.pixel_format: PixelFormat = pixel_format
        self.audio_horizon_s = audio_horizon_s
        self._video_settings = video or H264Settings()
        self._max_pending = max(1, math.ceil(max_queue_s * fps))
        self._partial = partial_path(self.path)
        self._queue: queue.SimpleQueue[_Video | _Audio | _Finish | _Abort] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending_video = 0
        self._dropped = 0
        self._closed = False
        """Set by finish() or abort(): later input is ignored."""
        self._aborted = threading.Event()
        self._end_pts: int | None = None
        self._thread: threading.Thread | None = None
        self._done: concurrent.futures.Future[RecordingInfo] = concurrent.futures.Future()
        self._tolerance_s = continuity_tolerance_s
        self._niceness = niceness
        """Added to the encoder thread's nice value: the file may lag the call by up to
        `max_queue_s`, while the live media and the models answering the caller may not."""

    # --- the caller's side -------------------------------------------------------------

    def start(self) -> None:
        """Starts the encoder thread (the file is opened there)."""
        if self._thread is not None or self._done.done():
            return
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{self.path.name}", daemon=True
        )
        self._thread.start()

    def add_video_frame(self, image: np.ndarray[Any, Any], timestamp_s: float) -> None:
        """RGB (or the `pixel_format` given) uint8 HxWx3 frame shown at `timestamp_s` on the
        session clock. Never blocks: if the encoder is more than `max_queue_s` of frames behind,
        the frame is dropped and counted. The array is kept, not copied: don't write into it."""
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 {(self.height, self.width, 3)}, got {image.dtype} {image.shape}"
            )
        with self._lock:
            if self._closed:
                return
            if self._pending_video >= self._max_pending:
                self._dropped += 1
                return
            self._pending_video += 1
        self._queue.put(_Video(image, timestamp_s))

    def add_avatar_audio(
        self, samples: np.ndarray[Any, Any], sample_rate: int, timestamp_s: float
    ) -> None:
        """float32 mono in [-1, 1] that started playing at `timestamp_s`. Never blocks."""
        self._add_audio(_AVATAR, samples, sample_rate, timestamp_s)

    def add_caller_audio(
        self, samples: np.ndarray[Any, Any], sample_rate: int, timestamp_s: float
    ) -> None:
        """float32 mono, as received from the caller at `timestamp_s`. Never blocks."""
        self._add_audio(_CALLER, samples, sample_rate, timestamp_s)

    def _add_audio(
        self, source: int, samples: np.ndarray[Any, Any], sample_rate: int, timestamp_s: float
    ) -> None:
        if self._closed or len(samples) == 0:
            return
        self._queue.put(
            _Audio(source, np.asarray(samples, np.float32).reshape(-1), sample_rate, timestamp_s)
        )

    async def finish(self, duration_s: float) -> RecordingInfo:
        """Encodes what is queued, pads the audio with silence and holds the last frame up to
        `duration_s`, closes the file (off the event loop) and renames it to `path`.

        Input after this call is ignored. Starts the encoder if start() was never called.
        Cancelling the await does not stop the finishing. Raises RecordingError if the
        recording failed or was aborted."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._end_pts = max(1, round(duration_s * self.fps))
                self._queue.put(_Finish(duration_s))
        self.start()
        return await asyncio.shield(asyncio.wrap_future(self._done))

    def abort(self) -> None:
        """Stops recording and deletes the file (or the finished one). Never blocks: the encoder
        thread discards what is queued and removes its partial file; `path` is removed now."""
        with self._lock:
            self._closed = True
            self._aborted.set()
        self._queue.put(_Abort())
        if self._thread is None:
            self._fail(RecordingError("recording aborted"))
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def join(self, timeout: float | None = None) -> None:
        """Waits for the encoder thread to end (after finish or abort). Blocks: not on the loop."""
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the encoder thread ------------------------------------------------------------

    def _run(self) -> None:
        self._done.set_running_or_notify_cancel()
        # This thread's own value, inherited by the encoder's threads it starts; the encoder
        # thread ends with the recording, so nothing needs to raise it back.
        lower_thread(threading.get_native_id(), self._niceness)
        writer: Mp4Writer | None = None
        try:
            if self._aborted.is_set():
                raise RecordingError("recording aborted")
            writer = Mp4Writer(
                self._partial,
                width=self.width,
                height=self.height,
                fps=self.fps,
                audio_rate=self.audio_rate,
                video=self._video_settings,
                fragmented=True,
            )
            encoder = _Encoder(self, writer)
            info = encoder.run()  # closes the writer when finished
            writer = None
            if self._aborted.is_set():
                raise RecordingError("recording aborted")
            staged = self.path.with_name(self.path.name + ".remux")
            remux_progressive(self._partial, staged)
            os.replace(staged, self.path)
            self._partial.unlink(missing_ok=True)
            info = dataclasses.replace(info, bytes=self.path.stat().st_size)
            if self._aborted.is_set():  # abort() ran during the rename
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                raise RecordingError("recording aborted")
            self._done.set_result(info)
        except BaseException as error:
            if not isinstance(error, RecordingError):
                log.exception("recording %s failed", self.path)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.discard()
            for leftover in (self._partial, self.path.with_name(self.path.name + ".remux")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            self._fail(error if isinstance(error, RecordingError) else RecordingError(str(error)))

    def _fail(self, error: RecordingError) -> None:
        with self._lock:
            self._closed = True
        if not self._done.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                self._done.set_exception(error)

    def _frame_taken(self) -> None:
        with self._lock:
            self._pending_video -= 1


def partial_path(path: Path) -> Path:
    """Where a recording to `path` is written while the call goes."""
    return path.with_name(path.name + ".part")


def salvage(partial: Path, target: Path) -> float:
    """The recording a crashed process left in `partial` (fragmented, cut at its last whole
    fragment), as an ordinary MP4 at `target`; `partial` is removed. Returns the duration.
    Raises ValueError if nothing in it can be played (it is removed anyway)."""
    try:
        return remux_progressive(partial, target)
    except av.error.FFmpegError as error:  # not even a first fragment
        target.unlink(missing_ok=True)
        raise ValueError(f"{partial} holds no playable media: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


class _Encoder:
    """The encoder thread's state: the writer, the two audio sources and the mix window."""

    def __init__(self, recorder: CallRecorder, writer: Mp4Writer) -> None:
        self.recorder, self.writer = recorder, writer
        rate = recorder.audio_rate
        self.mix = AudioMix(capacity=round(rate * (recorder.audio_horizon_s + 2.0)))
        self.sources = (
            AudioTrack(rate, recorder._tolerance_s),
            AudioTrack(rate, recorder._tolerance_s),
        )
        self.clock_s = 0.0
        self.written = 0
        self.skipped = 0
        self.last_image: npt.NDArray[np.uint8] | None = None
        self.times: deque[float] = deque(maxlen=4096)
        self.cpu_s = 0.0

    def run(self) -> RecordingInfo:
        recorder = self.recorder
        while True:
            item = recorder._queue.get()
            if isinstance(item, _Abort) or recorder._aborted.is_set():
                raise RecordingError("recording aborted")
            if isinstance(item, _Video):
                try:
                    self._video(item)
                finally:
                    recorder._frame_taken()
            elif isinstance(item, _Audio):
                self.sources[item.source].add(
                    item.samples, item.sample_rate, item.timestamp_s, self.mix
                )
                self.clock_s = max(self.clock_s, item.timestamp_s)
                self._encode_audio()
            else:
                return self._finish(item.duration_s)

    def _video(self, item: _Video) -> None:
        self.clock_s = max(self.clock_s, item.timestamp_s)
        pts = max(0, round(item.timestamp_s * self.recorder.fps))
        end_pts = self.recorder._end_pts
        if self.writer.last_pts is None:
            pts = 0  # the first picture stands in for the time before it
        elif pts <= self.writer.last_pts or (end_pts is not None and pts >= end_pts):
            self.skipped += 1
            return
        started, started_cpu = time.perf_counter(), time.thread_time()
        self.writer.write_video(item.image, pts, self.recorder.pixel_format)
        self.times.append(time.perf_counter() - started)
        self.cpu_s += time.thread_time() - started_cpu
        self.last_image = item.image
        self.written += 1
        self._encode_audio()

    def _encode_audio(self) -> None:
        rate = self.recorder.audio_rate
        until = math.floor((self.clock_s - self.recorder.audio_horizon_s) * rate)
        if until - self.mix.base < rate // 10:
            return
        for source in self.sources:
            if source.holds_back() and source.expected_s() * rate < until:
                source.flush(self.mix)  # idle: nothing will continue it in time
        self._drain(until)

    def _drain(self, until: int) -> None:
        """Mix, limit and encode up to `until`, in slices (a jump in time costs no memory)."""
        step = 5 * self.recorder.audio_rate
        while self.mix.base < until:
            self.writer.write_audio(soft_limit(self.mix.take(min(until, self.mix.base + step))))

    def _finish(self, duration_s: float) -> RecordingInfo:
        recorder, writer = self.recorder, self.writer
        end_pts = max(1, round(duration_s * recorder.fps))
        if writer.last_pts is None:
            writer.write_black(0)
        if writer.last_pts is not None and writer.last_pts < end_pts - 1:
            if self.last_image is None:
                writer.write_black(end_pts - 1)
            else:
                writer.write_video(self.last_image, end_pts - 1, recorder.pixel_format)
        for source in self.sources:
            source.flush(self.mix)
        end_sample = max(round(duration_s * recorder.audio_rate), self.mix.base)
        self._drain(end_sample)
        writer.close()
        video_s = ((writer.last_pts or 0) + 1) / recorder.fps
        times = np.array(self.times) * 1000 if self.times else np.zeros(1)
        with recorder._lock:
            dropped = recorder._dropped
        return RecordingInfo(
            path=recorder.path,
            duration_s=max(video_s, end_sample / recorder.audio_rate),
            frames_written=self.written,
            frames_dropped=dropped,
            bytes=recorder._partial.stat().st_size,
            frames_skipped=self.skipped,
            audio_late_s=self.mix.late_samples / recorder.audio_rate,
            encode_ms_p50=round(float(np.percentile(times, 50)), 2),
            encode_ms_p95=round(float(np.percentile(times, 95)), 2),
            encode_cpu_ms_mean=round(1000 * self.cpu_s / max(1, self.written), 2),
        )
