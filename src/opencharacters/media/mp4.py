"""MP4 writing shared by offline clips and live call recordings: H.264 + mono AAC, moov first.

Blocking and not thread-safe: one thread owns a writer from open to close."""

from __future__ import annotations

import math
import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

from opencharacters.media.audio import mono_frame

PixelFormat = Literal["rgb24", "bgr24"]
_TO_I420 = {"rgb24": cv2.COLOR_RGB2YUV_I420, "bgr24": cv2.COLOR_BGR2YUV_I420}
_AVCOL_SMPTE170M = 6
"""FFmpeg's AVCOL_SPC/PRI/TRC_SMPTE170M (BT.601 525), what cv2's YUV_I420 conversion uses."""
_AVCOL_RANGE_MPEG = 1
"""Limited range (16-235)."""
AAC_FRAME = 1024
"""Samples per AAC frame (the encoder's fixed frame size)."""
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}


@dataclass(frozen=True, slots=True)
class H264Settings:
    """libx264 settings. Rendered 1088x704 avatar frames on one core of the 2-core dev box
    (bench/recording_bench.py), colour conversion included: veryfast CRF 23 ~4 ms CPU/frame at
    ~290 kbit/s; ultrafast ~2.4 ms but 4x the bitrate."""

    preset: str = "veryfast"
    crf: int = 23
    gop_s: float = 2.0
    threads: int = 1
    """1: one core per session is the budget. 0 lets x264 pick (faster wall time, more CPU)."""


class Mp4Writer:
    """H.264 (yuv420p, BT.601 limited range, tagged) and AAC mono, moov before mdat.

    Video pts count frames at `fps` and must increase; audio is appended as one contiguous
    float32 track starting at 0."""

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: int,
        audio_rate: int,
        video: H264Settings | None = None,
        faststart: bool = True,
        fragmented: bool = False,
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"H.264 4:2:0 needs an even frame size, got {width}x{height}")
        settings = video or H264Settings()
        self.width, self.height, self.fps, self.audio_rate = width, height, fps, audio_rate
        self.path, self._faststart = path, faststart and not fragmented
        # Fragmented: a moof+mdat about every second, flushed as it is written, so a process
        # killed mid-call leaves a file playable up to its last second (remux_progressive then
        # makes the ordinary moov-first MP4 of it).
        options = FRAGMENTED if fragmented else {}
        self._container: Any = av.open(str(path), "w", format="mp4", options=options)
        try:
            stream: Any = self._container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            context = stream.codec_context
            context.gop_size = max(1, round(settings.gop_s * fps))
            context.thread_count = settings.threads
            # Say what the pixels are: without tags some players guess BT.709 for this size.
            context.colorspace = _AVCOL_SMPTE170M
            context.color_primaries = _AVCOL_SMPTE170M
            context.color_trc = _AVCOL_SMPTE170M
            context.color_range = _AVCOL_RANGE_MPEG
            stream.options = {"preset": settings.preset, "crf": str(settings.crf)}
            sound: Any = self._container.add_stream("aac", rate=audio_rate)
            sound.layout = "mono"
        except BaseException:
            self._container.close()
            raise
        self._video, self._sound = stream, sound
        self._time_base = Fraction(1, fps)
        self._audio_time_base = Fraction(1, audio_rate)
        self._pending = np.zeros(0, np.float32)
        self.audio_samples = 0
        """Samples handed to the AAC encoder so far (the pending partial frame not counted)."""
        self.video_frames = 0
        self.last_pts: int | None = None

    def write_video(
        self, image: np.ndarray[Any, Any], pts: int, pixel_format: PixelFormat = "rgb24"
    ) -> None:
        """One HxWx3 uint8 frame shown from `pts` / fps until the next frame."""
        if image.shape != (self.height, self.width, 3):
            raise ValueError(f"frame is {image.shape}, expected {(self.height, self.width, 3)}")
        self._encode_i420(cv2.cvtColor(image, _TO_I420[pixel_format]), pts)

    def write_black(self, pts: int) -> None:
        planes = np.full((self.height * 3 // 2, self.width), 128, np.uint8)
        planes[: self.height] = 16
        self._encode_i420(planes, pts)

    def _encode_i420(self, planes: np.ndarray[Any, Any], pts: int) -> None:
        if self.last_pts is not None and pts <= self.last_pts:
            raise ValueError(f"video pts {pts} after {self.last_pts}")
        picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        picture.pts = pts
        picture.time_base = self._time_base
        self._container.mux(self._video.encode(picture))
        self.last_pts = pts
        self.video_frames += 1

    def write_audio(self, samples: np.ndarray[Any, Any]) -> None:
        """Append mono float32 samples at `audio_rate` (encoded in whole AAC frames)."""
        if len(samples) == 0:
            return
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(data) - len(data) % AAC_FRAME
        for start in range(0, whole, AAC_FRAME):
            self._encode_audio(data[start : start + AAC_FRAME])
        self._pending = data[whole:].copy()

    def _encode_audio(self, block: npt.NDArray[np.float32]) -> None:
        frame = mono_frame(block, self.audio_rate, self.audio_samples, "fltp")
        frame.time_base = self._audio_time_base
        self._container.mux(self._sound.encode(frame))
        self.audio_samples += len(block)

    def close(self) -> None:
        """Flush both encoders and write the index, then move it to the front (a file copy)."""
        try:
            if len(self._pending):
                self._encode_audio(self._pending)  # the AAC encoder takes a short last frame
                self._pending = np.zeros(0, np.float32)
            self._container.mux(self._video.encode(None))
            self._container.mux(self._sound.encode(None))
        finally:
            self._container.close()
        if self._faststart:
            move_index_to_front(self.path)

    def discard(self) -> None:
        """Close without flushing the encoders (the file is to be deleted)."""
        self._container.close()


def remux_progressive(source: Path, target: Path) -> float:
    """Copies the audio and video packets of `source` (a fragmented MP4, possibly cut short by a
    crash: the demuxer stops at the last whole fragment) into an ordinary MP4 at `target`,
    index first. No re-encoding: ~15 ms per 5 s of call. Returns the duration in seconds;
    raises ValueError if `source` holds no media."""
    shift_s = _fragment_shift_s(source)
    packets = 0
    with av.open(str(source)) as reader, av.open(str(target), "w", format="mp4") as writer:
        streams = {
            stream.index: writer.add_stream_from_template(stream)
            for stream in reader.streams
            if stream.type in ("video", "audio")
        }
        if not streams:
            raise ValueError(f"{source} has no audio or video")
        first: dict[int, Any] = {}
        """Each track's first packet, clamped to 0 by the fragmenting muxer, waits for the
        second to be put back where it belongs."""
        for packet in reader.demux(*reader.streams):
            index = packet.stream.index
            if index not in streams or packet.dts is None or packet.pts is None or not packet.size:
                continue
            # The muxer rounded the shift up in each track's time base.
            shift = math.ceil(shift_s / packet.time_base - 1e-6)
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = streams[index]
            if index not in first:
                first[index] = packet
                continue
            held = first[index]
            if held is not None:
                if packet.stream.type == "audio":  # AAC priming: one frame before the next
                    frame = packet.duration or AAC_FRAME
                    held.pts = held.dts = packet.dts - frame
                    held.duration = frame
                else:  # our video starts at 0; its decode time stays before the next one's
                    held.pts = 0
                    held.dts = min(held.dts, packet.dts - 1, 0)
                writer.mux(held)
                first[index] = None
                packets += 1
            writer.mux(packet)
            packets += 1
        for held in first.values():
            if held is not None:
                writer.mux(held)
                packets += 1
    if packets == 0:
        target.unlink(missing_ok=True)
        raise ValueError(f"{source} holds no complete fragment")
    move_index_to_front(target)
    with av.open(str(target)) as check:
        return float(check.duration or 0) / 1_000_000


def _fragment_shift_s(source: Path) -> float:
    """How much later than their real time the fragmenting muxer wrote every packet.

    A fragmented file has no edit list, so the muxer moved all tracks later until no timestamp
    was negative (by the x264 B-frame delay or the AAC priming frame, whichever is larger) and
    clamped each track's first packet to 0. The audio's second packet really starts at 0 (the
    first is the encoder's priming), so its timestamp is the shift."""
    with av.open(str(source)) as reader:
        if not reader.streams.audio:
            video = reader.streams.video
            start = video[0].start_time if video else None
            base = video[0].time_base if video else None
            return float(max(0, start) * base) if start is not None and base else 0.0
        seen = 0
        for packet in reader.demux(reader.streams.audio[0]):
            if packet.pts is None or not packet.size:
                continue
            seen += 1
            if seen == 2:
                return float(packet.pts * packet.time_base)
    return 0.0


# What FFmpeg's `movflags=+faststart` does, but in Python: PyAV runs av_write_trailer (where
# FFmpeg would rewrite the whole file) holding the GIL, which stalled the event loop for
# ~150 ms per 100 MB; plain file reads and writes let it run.

_PATH_TO_CHUNK_OFFSETS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes in data[start:end]."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise ValueError(f"malformed MP4 box {kind!r} at {at}")
        yield kind, at, at + header, at + size
        at += size


def _top_level_boxes(path: Path) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the file's top-level boxes, reading only their headers."""
    boxes, total = [], path.stat().st_size
    with path.open("rb") as file:
        at = 0
        while at + 8 <= total:
            file.seek(at)
            head = file.read(16)
            size, kind = struct.unpack_from(">I4s", head)
            if size == 1:
                size = struct.unpack_from(">Q", head, 8)[0]
            elif size == 0:
                size = total - at
            if size < 8 or at + size > total:
                raise ValueError(f"malformed MP4 box {kind!r} at {at}")
            boxes.append((kind, at, at + size))
            at += size
    return boxes


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, shift: int) -> None:
    for kind, _, payload, box_end in _boxes(moov, start, end):
        if kind in _PATH_TO_CHUNK_OFFSETS:
            _shift_chunk_offsets(moov, payload, box_end, shift)
        elif kind in (b"stco", b"co64"):
            dtype = ">u4" if kind == b"stco" else ">u8"
            count = struct.unpack_from(">I", moov, payload + 4)[0]  # after version and flags
            table = payload + 8
            offsets = np.frombuffer(moov, dtype, count, table).astype(np.uint64) + np.uint64(shift)
            if kind == b"stco" and count and int(offsets.max()) > 0xFFFFFFFF:
                raise OverflowError("chunk offsets past 4 GiB need co64")
            moov[table : table + offsets.astype(dtype).nbytes] = offsets.astype(dtype).tobytes()


def move_index_to_front(path: Path) -> None:
    """Put the moov box before the media data (for streaming with range requests)."""
    boxes = _top_level_boxes(path)
    kinds = [kind for kind, _, _ in boxes]
    if b"moov" not in kinds or b"mdat" not in kinds:
        raise ValueError(f"{path} has no moov or no mdat")
    _, moov_start, moov_end = boxes[kinds.index(b"moov")]
    if moov_start < boxes[kinds.index(b"mdat")][1]:
        return
    insert_at = boxes[0][2] if kinds[0] == b"ftyp" else 0  # right after ftyp, as FFmpeg does
    with path.open("rb") as source:
        source.seek(moov_start)
        moov = bytearray(source.read(moov_end - moov_start))
        header = 16 if struct.unpack_from(">I", moov)[0] == 1 else 8
        _shift_chunk_offsets(moov, header, len(moov), len(moov))
        moved = path.with_name(path.name + ".faststart")
        try:
            with moved.open("wb") as target:
                source.seek(0)
                _copy(source, target, insert_at)
                target.write(moov)
                _copy(source, target, moov_start - insert_at)
                source.seek(moov_end)
                shutil.copyfileobj(source, target, 1 << 20)
            os.replace(moved, path)
        except BaseException:
            moved.unlink(missing_ok=True)
            raise


def _copy(source: Any, target: Any, count: int) -> None:
    while count > 0:
        block = source.read(min(count, 1 << 20))
        if not block:
            raise ValueError("MP4 shorter than its boxes say")
        target.write(block)
        count -= len(block)
