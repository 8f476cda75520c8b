"""Files in and out for the standalone tool: audio decoding, MP4 muxing, contact sheets."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from opencharacters.animation.drive import VISEME_TARGETS
from opencharacters.animation.params import FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.stream import VideoFrame
from opencharacters.media.audio import AudioChunk
from opencharacters.media.mp4 import H264Settings, Mp4Writer

_AAC_RATE = 48000


def write_mp4(path: Path, frames: Iterable[VideoFrame], audio: AudioChunk, fps: int) -> int:
    """H.264 video (BGR frames in) plus AAC audio, moov first; returns the frames written."""
    stream = iter(frames)
    first = next(stream, None)
    if first is None:
        raise ValueError("no video frames to write")
    height, width = first.image.shape[:2]
    writer = Mp4Writer(
        path,
        width=width,
        height=height,
        fps=fps,
        audio_rate=_AAC_RATE,
        video=H264Settings(threads=0),  # offline: let x264 thread (as it always did here)
    )
    try:
        for frame in itertools.chain([first], stream):
            writer.write_video(frame.image, frame.index, "bgr24")
        _write_audio(writer, audio)
    except BaseException:
        writer.discard()
        raise
    writer.close()
    return writer.video_frames


def _write_audio(writer: Mp4Writer, audio: AudioChunk) -> None:
    pcm = audio.samples.astype(np.float32).reshape(1, -1)
    source = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
    source.sample_rate = audio.sample_rate
    source.pts = 0
    source.time_base = Fraction(1, audio.sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=_AAC_RATE)
    for frame in [*resampler.resample(source), *resampler.resample(None)]:
        writer.write_audio(frame.to_ndarray().reshape(-1))


SHEET_POSES: dict[str, FaceParams] = {
    "neutral": FaceParams(),
    **{
        f"viseme {name}": FaceParams(**targets)
        for name, targets in VISEME_TARGETS.items()
        if name != "sil"
    },
    "smile": FaceParams(smile=1.0),
    "blink half": FaceParams(blink=0.5),
    "blink": FaceParams(blink=1.0),
    "brows up": FaceParams(brow=1.0),
    "gaze left": FaceParams(gaze_x=-1.0),
    "gaze right": FaceParams(gaze_x=1.0),
    "turn left": FaceParams(yaw=-1.0),
    "turn right": FaceParams(yaw=1.0),
    "nod down": FaceParams(pitch=1.0),
    "tilt": FaceParams(roll=1.0),
}


def contact_sheet(
    renderer: Renderer, columns: int = 6, tile_width: int = 240
) -> np.ndarray[Any, Any]:
    """Face ROI of each key pose, labelled, in a grid."""
    x0, y0, x1, y1 = renderer.roi
    tile_height = round(tile_width * (y1 - y0) / (x1 - x0))
    tiles = []
    for label, params in SHEET_POSES.items():
        face = renderer.render(params)[y0:y1, x0:x1]
        tile = cv2.resize(face, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
        )
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
