"""H.264 for WebRTC at a cost this machine can pay.

aiortc encodes H.264 with libx264's default `medium` preset (3-5x the CPU of its VP8 encoder, see
media-notes) and no way to configure it. This encoder opens the same stream with `ultrafast`,
which costs about a fifteenth; everything else (packetization, bitrate adaptation, keyframes)
stays aiortc's."""

from __future__ import annotations

import fractions
from collections.abc import Iterator
from typing import Any

import av
from aiortc import rtcrtpsender
from aiortc.codecs import get_encoder
from aiortc.codecs.h264 import H264Encoder

FPS = 25


class FastH264Encoder(H264Encoder):
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
            codec.framerate = fractions.Fraction(FPS, 1)
            codec.time_base = fractions.Fraction(1, FPS)
            codec.options = {"preset": "ultrafast", "tune": "zerolatency", "level": "31"}
            codec.profile = "Baseline"
            self.codec = codec
        return super()._encode_frame(frame, force_keyframe)


def _encoder_for(codec: Any) -> Any:
    if codec.mimeType.lower() == "video/h264":
        return FastH264Encoder()
    return get_encoder(codec)


def install() -> None:
    """Makes aiortc's senders use the fast H.264 encoder (idempotent)."""
    rtcrtpsender.get_encoder = _encoder_for  # type: ignore[attr-defined]
