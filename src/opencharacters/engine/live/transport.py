"""The caller transport over WebRTC (aiortc): the embedded adapter of pipeline.ports's
CallerTransport. Everything aiortc and PyAV is here; the pipeline sees 16 kHz chunks in,
data events out, and pulls nothing: the tracks read the speaker and the face animation."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import av
import numpy as np

from opencharacters.animation.stream import FaceAnimator, VideoFrame
from opencharacters.engine.live.tracks import AvatarAudioTrack, AvatarVideoTrack
from opencharacters.media.audio import AudioChunk, Samples
from opencharacters.pipeline.channel import CallChannel
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.ports import CallControl
from opencharacters.pipeline.speaker import Speaker

log = logging.getLogger(__name__)

CALLER_RATE = 16_000
_BACKLOG = 500
"""Caller chunks (10-20 ms each) held for a listener that fell behind before dropping."""


class MediaTaps(Protocol):
    """What the pipeline wants to see of the media as it passes (recording, metrics)."""

    def caller_audio_received(self, samples: Samples, sample_rate: int, at_s: float) -> None: ...

    def avatar_audio_sent(self, samples: Samples, at_s: float, first: bool) -> None: ...

    def frame_sent(self, frame: VideoFrame, first: bool) -> None: ...


class CallPeer(CallControl, MediaTaps, Protocol):
    pass


class WebRtcTransport:
    def __init__(
        self, session_id: str, clock: SessionClock, speaker: Speaker, face: FaceAnimator
    ) -> None:
        self._session_id = session_id
        self._clock = clock
        self._peer: CallPeer | None = None
        self.channel = CallChannel(session_id, self._end_call_requested)
        self.audio_track = AvatarAudioTrack(clock.now, speaker, self._audio_played)
        self.video_track = AvatarVideoTrack(clock.now, face, self._frame_shown)
        self._audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=_BACKLOG)
        self._readers: list[asyncio.Task[None]] = []
        self._last_audio_s: float | None = None
        self._audio_receiver: Any = None

    def bind(self, peer: CallPeer) -> None:
        self._peer = peer

    # ----- aiortc's callbacks ----------------------------------------------------------------

    def connection_state_changed(self, state: str) -> None:
        if self._peer is None:
            return
        if state == "connected":
            self._peer.connected()
        elif state in ("failed", "closed"):
            self._peer.left("the caller left")

    def caller_track(self, track: Any) -> None:
        reader = self._read_audio(track) if track.kind == "audio" else _drain(track)
        task = asyncio.ensure_future(reader)  # a camera is accepted and not used
        task.set_name(f"{self._session_id}:caller-{track.kind}")
        self._readers.append(task)

    def caller_audio_receiver(self, receiver: Any) -> None:
        """The RTP receiver of the caller's microphone, whose packets show that the caller's
        media still arrives even when decoding lags behind on a starved machine."""
        self._audio_receiver = receiver

    def _end_call_requested(self) -> None:
        if self._peer is not None:
            self._peer.end_requested("END_CALL")

    # ----- CallerTransport ---------------------------------------------------------------------

    async def caller_audio(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self._audio.get()) is not None:
            yield chunk

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(message)

    def last_caller_audio_s(self) -> float | None:
        """When the caller's audio was last seen: the newer of the last decoded frame and the
        last RTP packet. Decoding runs in aiortc's threads, which a starved CPU can hold back
        for many seconds while packets keep arriving; that is a slow machine, not a caller who
        left, so packets count as media."""
        if self._last_audio_s is None:
            return None
        packet_s = self._last_packet_s()
        return self._last_audio_s if packet_s is None else max(self._last_audio_s, packet_s)

    def _last_packet_s(self) -> float | None:
        if self._audio_receiver is None:
            return None
        # aiortc lists the sources heard in the last 10 s, stamped in UTC as packets arrive.
        sources = self._audio_receiver.getSynchronizationSources()
        if not sources:
            return None
        newest: datetime.datetime = max(source.timestamp for source in sources)
        age_s = (datetime.datetime.now(datetime.UTC) - newest).total_seconds()
        return self._clock.now() - max(0.0, age_s)

    def media_stats(self) -> dict[str, Any]:
        return {
            "audioFramesSent": self.audio_track.frames_sent,
            "videoFramesSent": self.video_track.frames_sent,
            "firstFrameS": self.video_track.first_frame_s,
        }

    def stop(self) -> None:
        for task in self._readers:
            task.cancel()
        self.audio_track.stop()
        self.video_track.stop()

    # ----- media -------------------------------------------------------------------------------

    async def _read_audio(self, track: Any) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=CALLER_RATE)
        first: tuple[int, float] | None = None
        while True:
            try:
                frame = await track.recv()
            except Exception:  # MediaStreamError: the caller's track ended
                return
            arrived = self._clock.now()
            self._last_audio_s = arrived
            if first is None or frame.pts is None:
                first = (frame.pts or 0, arrived - frame.samples / frame.sample_rate)
            start_s = first[1] + ((frame.pts or 0) - first[0]) / frame.sample_rate
            if self._peer is not None:
                stereo = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                mono = stereo.mean(axis=1).astype(np.float32) / 32768.0
                self._peer.caller_audio_received(mono, frame.sample_rate, start_s)
            for out in resampler.resample(frame):
                pcm = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
                try:
                    self._audio.put_nowait(AudioChunk(pcm, CALLER_RATE, start_s))
                except asyncio.QueueFull:
                    log.warning("session %s: caller audio backlog, dropping", self._session_id)

    def _audio_played(self, samples: Samples, at_s: float) -> None:
        if self._peer is not None:
            self._peer.avatar_audio_sent(samples, at_s, self.audio_track.frames_sent == 0)

    def _frame_shown(self, frame: VideoFrame) -> None:
        if self._peer is not None:
            self._peer.frame_sent(frame, self.video_track.frames_sent == 0)


async def _drain(track: Any) -> None:
    while True:
        try:
            await track.recv()
        except Exception:
            return
