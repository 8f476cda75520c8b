"""The call client's media over a LiveKit room: what `Caller` uses when `consume` returned a
LiveKit server URL (OPENCHARACTERS_TRANSPORT=livekit) instead of a WHIP endpoint.

The caller joins the room with the token from consume, publishes its microphone (the same
real-time `Microphone` the WHIP path sends), subscribes to the avatar (the one participant whose
identity starts with `worker:`) and exchanges the data messages a WHIP call carries on its data
channel as reliable data packets. Everything of the `livekit` SDK in the client is here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import av
import numpy as np
from livekit import rtc

from opencharacters.client.errors import CallError, CallTimeout
from opencharacters.media.audio import Samples

log = logging.getLogger(__name__)

AVATAR_PREFIX = "worker:"
"""The avatar's identity starts with this (Runway's convention, which our server follows)."""
RATE = 48_000
_MIC_QUEUE_MS = 100
_CLOSE_TIMEOUT_S = 2.0
_END_CALL_FLUSH_S = 0.2
"""END_CALL is given this long to leave before the room is left (Runway's SDK does the same)."""


class MediaSink(Protocol):
    """Where what the avatar sends goes (the `Caller`)."""

    def audio_arrived(self, samples: Samples, pts: int) -> None: ...

    async def video_arrived(
        self, width: int, height: int, pts: int, to_bgr: Callable[[], np.ndarray[Any, Any]]
    ) -> None: ...

    def message_arrived(self, raw: str | bytes) -> None: ...

    def media_ending(self, what: str) -> None:
        """The room or the avatar shows the call is ending (the peer watch confirms why)."""
        ...


class LiveKitLink:
    def __init__(self, sink: MediaSink, microphone: Callable[[], Awaitable[av.AudioFrame]]) -> None:
        self._sink = sink
        self._microphone = microphone
        self.room = rtc.Room()
        self._tasks: list[asyncio.Task[None]] = []
        self._natives: list[Any] = []
        """Streams and sources, closed before leaving (left to the garbage collector, the SDK's
        native side may call back into a closed event loop)."""
        self._avatar_audio = asyncio.Event()
        self._avatar_video = asyncio.Event()
        self._end_sent: asyncio.Task[None] | None = None
        self._closed = False

    async def join(self, url: str, token: str, timeout_s: float = 20.0) -> None:
        """Joins the room, publishes the microphone and waits for the avatar's voice and face."""
        room = self.room
        room.on("track_subscribed", self._subscribed)
        room.on("data_received", self._data)
        room.on("participant_disconnected", self._participant_left)
        room.on("disconnected", self._disconnected)
        try:
            await asyncio.wait_for(
                room.connect(url, token, rtc.RoomOptions(auto_subscribe=True)), timeout_s
            )
        except TimeoutError:
            raise CallTimeout(
                f"the LiveKit room at {url} did not open within {timeout_s:g} s"
            ) from None
        except rtc.ConnectError as exc:
            raise CallError(f"cannot join the LiveKit room at {url}: {exc}") from None
        source = rtc.AudioSource(RATE, 1, queue_size_ms=_MIC_QUEUE_MS)
        self._natives.append(source)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._spawn(self._send_microphone(source))
        for what, arrived in (("voice", self._avatar_audio), ("face", self._avatar_video)):
            try:
                await asyncio.wait_for(arrived.wait(), timeout_s)
            except TimeoutError:
                raise CallTimeout(
                    f"the avatar's {what} did not arrive in the LiveKit room within {timeout_s:g} s"
                ) from None

    def send(self, message: dict[str, Any]) -> None:
        """A data message to the avatar (reliable, like a WHIP call's data channel)."""
        if self._closed or not self.room.isconnected():
            return
        payload = json.dumps(message)
        task = asyncio.ensure_future(self.room.local_participant.publish_data(payload))
        if message.get("type") == "END_CALL":
            self._end_sent = task

    async def close(self) -> None:
        """Leaves the room (after END_CALL, when it was sent, has had time to leave)."""
        if self._closed:
            return
        if self._end_sent is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._end_sent, _CLOSE_TIMEOUT_S)
            await asyncio.sleep(_END_CALL_FLUSH_S)
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for native in self._natives:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(native.aclose(), _CLOSE_TIMEOUT_S)
        try:
            await asyncio.wait_for(self.room.disconnect(), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.info("leaving the LiveKit room took too long")

    # ----- what arrives ----------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    @staticmethod
    def _is_avatar(participant: Any) -> bool:
        return str(getattr(participant, "identity", "")).startswith(AVATAR_PREFIX)

    def _subscribed(
        self, track: rtc.Track, _publication: rtc.RemoteTrackPublication, participant: Any
    ) -> None:
        if not self._is_avatar(participant):
            return  # nothing else is the avatar's voice or face
        if track.kind == rtc.TrackKind.KIND_AUDIO and not self._avatar_audio.is_set():
            self._avatar_audio.set()
            self._spawn(self._listen(track))
        elif track.kind == rtc.TrackKind.KIND_VIDEO and not self._avatar_video.is_set():
            self._avatar_video.set()
            self._spawn(self._watch(track))

    def _data(self, packet: rtc.DataPacket) -> None:
        if packet.participant is None or self._is_avatar(packet.participant):
            self._sink.message_arrived(packet.data)

    def _participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if self._is_avatar(participant) and not self._closed:
            self._sink.media_ending("the avatar left the LiveKit room")

    def _disconnected(self, reason: rtc.DisconnectReason.ValueType) -> None:
        if not self._closed:
            name = rtc.DisconnectReason.Name(reason) if reason else "UNKNOWN_REASON"
            self._sink.media_ending(f"the LiveKit room closed ({name})")

    async def _listen(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=RATE, num_channels=1)
        self._natives.append(stream)
        pts = 0
        async for event in stream:
            pcm = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            self._sink.audio_arrived(pcm, pts)
            pts += len(pcm)
        if not self._closed:
            self._sink.media_ending("the server ended the audio track")

    async def _watch(self, track: rtc.Track) -> None:
        stream = rtc.VideoStream(track)
        self._natives.append(stream)
        async for event in stream:
            frame = event.frame
            # RTP's 90 kHz video clock, as the WHIP path reports it.
            pts = event.timestamp_us * 90 // 1000

            def to_bgr(frame: rtc.VideoFrame = frame) -> np.ndarray[Any, Any]:
                rgba = frame.convert(rtc.VideoBufferType.RGBA)
                pixels = np.frombuffer(rgba.data, dtype=np.uint8)
                return pixels.reshape(rgba.height, rgba.width, 4)[:, :, 2::-1].copy()

            await self._sink.video_arrived(frame.width, frame.height, pts, to_bgr)
        if not self._closed:
            self._sink.media_ending("the server ended the video track")

    async def _send_microphone(self, source: rtc.AudioSource) -> None:
        """The microphone paces itself in real time (20 ms frames), as it does for WHIP."""
        while True:
            frame = await self._microphone()
            pcm = frame.to_ndarray().reshape(-1)
            await source.capture_frame(
                rtc.AudioFrame(pcm.astype(np.int16).tobytes(), RATE, 1, len(pcm))
            )
