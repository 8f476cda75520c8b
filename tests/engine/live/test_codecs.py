"""The fast H.264 encoder: only for the avatar's video, at the call's frame rate."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from opencharacters.engine.live import codecs

pytestmark = pytest.mark.unit

H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90_000, payloadType=102)
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=96)


async def encoder_in_a_sender_task(mark_fps: int | None, codec: RTCRtpCodecParameters) -> object:
    """As aiortc does: the sender's task reads the track, then asks for an encoder."""

    async def sender() -> object:
        if mark_fps is not None:
            codecs.mark_avatar_video(mark_fps)  # what the avatar's track does in recv()
        return codecs._encoder_for(codec)

    return await asyncio.ensure_future(sender())


async def test_the_avatars_video_gets_the_fast_encoder_at_its_frame_rate() -> None:
    encoder = await encoder_in_a_sender_task(30, H264)
    assert isinstance(encoder, codecs.FastH264Encoder) and encoder.fps == 30
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts, frame.time_base = 0, fractions.Fraction(1, 90_000)
    payloads, _ = encoder.encode(frame)
    assert payloads
    assert encoder.codec is not None and encoder.codec.framerate == 30
    assert encoder.codec.time_base == fractions.Fraction(1, 30)


async def test_other_senders_keep_aiortcs_encoders() -> None:
    plain = await encoder_in_a_sender_task(None, H264)
    assert isinstance(plain, H264Encoder) and not isinstance(plain, codecs.FastH264Encoder)
    vp8 = await encoder_in_a_sender_task(25, VP8)
    assert not isinstance(vp8, codecs.FastH264Encoder)
