"""H.264 for WebRTC at a cost this machine can pay.

aiortc encodes H.264 with libx264's default `medium` preset (3-5x the CPU of its VP8 encoder, see
media-notes) and no way to configure it. This encoder opens the same stream with `ultrafast`,
which costs about a fifteenth; everything else (packetization, bitrate adaptation, keyframes)
stays aiortc's.

Only the avatar's video gets it, at the call's frame rate: aiortc asks for an encoder right after
the sender's first `recv()` from the track, in the same task, so the avatar's track marks that
task (a context variable) and every other sender in the process keeps aiortc's own encoders."""

from __future__ import annotations

import fractions
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import av
from aiortc import rtcrtpsender
from aiortc.codecs import get_encoder
from aiortc.codecs.h264 import H264Encoder

_avatar_video_fps: ContextVar[int | None] = ContextVar("avatar_video_fps", default=None)


def mark_avatar_video(fps: int) -> None:
    """Called by the avatar's video track inside the sender's task: its encoder is ours."""
    _avatar_video_fps.set(fps)


class FastH264Encoder(H264Encoder):
    def __init__(self, fps: int) -> None:
        super().__init__()
        self.fps = fps

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        codec: Any = self.codec
        if (
            codec is None
            or frame.width != codec.width
            or frame.height != codec.height
            or abs(self.target_bitrate - codec.bit_rate) / codec.bit_rate > 0.1
        ):
            # Opened here, the parent class finds a codec matching its own reset rules and
            # uses it as is.
            self.buffer_data = b""
            self.buffer_pts = None
            codec = av.CodecContext.create("libx264", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.bit_rate = self.target_bitrate
            codec.pix_fmt = "yuv420p"
            codec.framerate = fractions.Fraction(self.fps, 1)
            codec.time_base = fractions.Fraction(1, self.fps)
            codec.options = {"preset": "ultrafast", "tune": "zerolatency", "level": "31"}
            codec.profile = "Baseline"
            self.codec = codec
        return super()._encode_frame(frame, force_keyframe)


def _encoder_for(codec: Any) -> Any:
    fps = _avatar_video_fps.get()
    if fps is not None and codec.mimeType.lower() == "video/h264":
        return FastH264Encoder(fps)
    return get_encoder(codec)


def install() -> None:
    """Lets the avatar's video senders use the fast H.264 encoder (idempotent)."""
    rtcrtpsender.get_encoder = _encoder_for  # type: ignore[attr-defined]
