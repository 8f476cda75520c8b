"""The avatar's outgoing media: an audio track reading the speaker and a video track rendering
the face, both paced on the session clock so a frame and its sound leave together.

aiortc pulls `recv()` one frame at a time. When the machine falls behind, both tracks skip to
"now" instead of sending a burst of stale frames (a burst grows the browser's jitter buffer)."""

from __future__ import annotations

import asyncio
import fractions
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from opencharacters.animation.stream import VideoFrame
from opencharacters.engine.live import codecs
from opencharacters.media.audio import Samples, float_to_int16
from opencharacters.pipeline.ports import FaceAnimation
from opencharacters.pipeline.speaker import FRAME_S, FRAME_SAMPLES, PLAYOUT_RATE, Speaker

VIDEO_CLOCK_RATE = 90_000
_AUDIO_TIME_BASE = fractions.Fraction(1, PLAYOUT_RATE)
_VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
_MAX_AUDIO_LAG_S = 0.2
"""Further behind than this, the audio track jumps to now (the lost part was never heard)."""


class AvatarAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        now: Callable[[], float],
        speaker: Speaker,
        on_audio: Callable[[Samples, float], None] | None = None,
    ) -> None:
        super().__init__()
        self._now = now
        self._speaker = speaker
        self._on_audio = on_audio
        self._next: int | None = None
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._now()
        if self._next is None:
            self._next = math.ceil(now / FRAME_S)
        due = self._next * FRAME_S
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > _MAX_AUDIO_LAG_S:
            self._next = math.floor(now / FRAME_S)
            due = self._next * FRAME_S
        start = self._next * FRAME_SAMPLES
        samples = self._speaker.read(start)
        if self._on_audio is not None:
            self._on_audio(samples, due)
        self._next += 1
        self.frames_sent += 1
        pcm = float_to_int16(samples).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = PLAYOUT_RATE
        frame.pts = start
        frame.time_base = _AUDIO_TIME_BASE
        return frame


class AvatarVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        now: Callable[[], float],
        animator: FaceAnimation,
        on_frame: Callable[[VideoFrame], None] | None = None,
    ) -> None:
        super().__init__()
        self._frames: AsyncIterator[VideoFrame] = animator.stream(now)
        self._on_frame = on_frame
        self._fps = animator.fps
        self.frames_sent = 0
        self.first_frame_s: float | None = None
        self._now = now

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        codecs.mark_avatar_video(self._fps)
        rendered = await anext(self._frames)
        if self.first_frame_s is None:
            self.first_frame_s = self._now()
        if self._on_frame is not None:
            self._on_frame(rendered)
        self.frames_sent += 1
        frame = av.VideoFrame.from_ndarray(_contiguous(rendered.image), format="bgr24")
        frame.pts = round(rendered.timestamp_s * VIDEO_CLOCK_RATE)
        frame.time_base = _VIDEO_TIME_BASE
        return frame


def _contiguous(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
