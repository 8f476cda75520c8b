"""The avatar's voice and face published into a LiveKit room, on the session clock: the same
for a call's own room (livekit_transport.py) and a developer's room where the avatar is their
agent's face (livekit_avatar_integration.py). The voice is the Microphone source, the face the
Camera source in one VP8 layer (no simulcast: one viewer, and the encoder is the call's largest
CPU cost after the models)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any, Protocol

import cv2
import numpy as np
from livekit import rtc

from opencharacters.animation.stream import FaceAnimator, VideoFrame
from opencharacters.media.audio import Samples, float_to_int16
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.speaker import FRAME_S, FRAME_SAMPLES, PLAYOUT_RATE, Speaker

MAX_AUDIO_LAG_S = 0.2
"""Further behind than this, the voice jumps to now (the lost part was never heard)."""
_AUDIO_QUEUE_MS = 100
"""The SDK's own buffer ahead of the encoder: frames are handed over on the session clock, so
it holds a frame or two; more would only delay the voice against the face."""
_VIDEO_BITRATE = 1_500_000


class AvatarTaps(Protocol):
    """Who wants to see the avatar's media as it leaves (recording, metrics, playback reports)."""

    def avatar_audio_sent(self, samples: Samples, at_s: float, first: bool) -> None: ...

    def frame_sent(self, frame: VideoFrame, first: bool) -> None: ...


class AvatarPublisher:
    def __init__(
        self, clock: SessionClock, speaker: Speaker, face: FaceAnimator, size: tuple[int, int]
    ) -> None:
        self._clock = clock
        self._speaker = speaker
        self._face = face
        self._width, self._height = size
        self._sources: tuple[rtc.AudioSource, rtc.VideoSource] | None = None
        self.taps: AvatarTaps | None = None
        self.audio_frames_sent = 0
        self.video_frames_sent = 0
        self.first_frame_s: float | None = None

    async def publish(self, participant: rtc.LocalParticipant) -> None:
        """Publishes the voice and the face tracks; raises what the server answers. The native
        sources are made here, in the event loop the SDK binds them to."""
        audio = rtc.AudioSource(PLAYOUT_RATE, 1, queue_size_ms=_AUDIO_QUEUE_MS)
        video = rtc.VideoSource(self._width, self._height)
        self._sources = (audio, video)
        await participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("avatar-voice", audio),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=False),
        )
        await participant.publish_track(
            rtc.LocalVideoTrack.create_video_track("avatar-face", video),
            rtc.TrackPublishOptions(
                source=rtc.TrackSource.SOURCE_CAMERA,
                simulcast=False,
                video_codec=rtc.VideoCodec.VP8,
                video_encoding=rtc.VideoEncoding(
                    max_framerate=self._face.fps, max_bitrate=_VIDEO_BITRATE
                ),
            ),
        )

    async def send_audio(self) -> None:
        """20 ms of the speaker at each frame's time on the session clock (after publish)."""
        assert self._sources is not None
        audio = self._sources[0]
        index = math.ceil(self._clock.now() / FRAME_S)
        while True:
            due = index * FRAME_S
            now = self._clock.now()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > MAX_AUDIO_LAG_S:
                index = math.floor(now / FRAME_S)
                due = index * FRAME_S
            samples = self._speaker.read(index * FRAME_SAMPLES)
            if self.taps is not None:
                self.taps.avatar_audio_sent(samples, due, self.audio_frames_sent == 0)
            pcm = float_to_int16(samples)
            await audio.capture_frame(rtc.AudioFrame(pcm.tobytes(), PLAYOUT_RATE, 1, FRAME_SAMPLES))
            index += 1
            self.audio_frames_sent += 1

    async def send_video(self) -> None:
        """Each rendered frame as it comes due (the animation paces itself on the clock)."""
        assert self._sources is not None
        video = self._sources[1]
        async for rendered in self._face.stream(self._clock.now):
            if self.first_frame_s is None:
                self.first_frame_s = self._clock.now()
            if self.taps is not None:
                self.taps.frame_sent(rendered, self.video_frames_sent == 0)
            height, width = rendered.image.shape[:2]
            video.capture_frame(
                rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, rgba_buffer(rendered.image))
            )
            self.video_frames_sent += 1

    def stats(self) -> dict[str, Any]:
        return {
            "audioFramesSent": self.audio_frames_sent,
            "videoFramesSent": self.video_frames_sent,
            "firstFrameS": self.first_frame_s,
        }

    async def aclose(self) -> None:
        """Releases the native sources now rather than at exit."""
        for source in self._sources or ():
            with contextlib.suppress(Exception):
                await source.aclose()


def rgba_buffer(image: np.ndarray) -> bytearray:
    """A BGR frame as the RGBA bytes a VideoFrame takes, converted straight into a fresh buffer
    (the SDK copies a numpy array's memoryview anyway, so `tobytes()` after the conversion was
    a second full-frame copy per frame; bench/livekit_frame_bench.py)."""
    height, width = image.shape[:2]
    buffer = bytearray(height * width * 4)
    rgba = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 4)
    cv2.cvtColor(image, cv2.COLOR_BGR2RGBA, dst=rgba)
    return buffer
