"""A developer's voice agent in its own LiveKit room, speaking LiveKit Agents' avatar protocol
to an avatar that gives it a face (what `livekit-agents`' DataStreamAudioOutput does).

Written with the `livekit` rtc SDK: `livekit-agents` 1.8.9 pins `livekit==1.1.21`, older than the
`livekit` 1.2 this project uses, so it cannot share the environment. The protocol followed:
speech as a byte stream per utterance on topic `lk.audio_stream` to the avatar, attributes
`sample_rate` and `num_channels`, 16-bit PCM, the stream closed at the utterance's end; RPC
`lk.clear_buffer` (payload "") on an interruption; the avatar's `lk.playback_started` and
`lk.playback_finished` (`{"playback_position", "interrupted"}`) RPCs answered "ok"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from opencharacters.media.audio import Samples

AGENT_RATE = 16_000
CHUNK = 320  # 20 ms at 16 kHz: what a TTS plugin's frames hand over


def room_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    *,
    on_behalf_of: str | None = None,
) -> str:
    """An agent-kind token for `room` (the avatar's also names the agent it publishes for,
    as LiveKit Agents' avatar plugins mint it)."""
    from livekit import api

    token = (
        api.AccessToken(api_key, api_secret)
        .with_kind("agent")
        .with_identity(identity)
        .with_name(identity)
        .with_grants(api.VideoGrants(room_join=True, room=room))
    )
    if on_behalf_of is not None:
        token = token.with_attributes({"lk.publish_on_behalf": on_behalf_of})
    return token.to_jwt()


@dataclass(slots=True)
class Playback:
    at: float
    method: str
    payload: dict[str, Any]


class ScriptedAgent:
    def __init__(self) -> None:
        from livekit import rtc

        self.rtc = rtc
        self.room = rtc.Room()
        self.playback: list[Playback] = []
        self.frames: list[tuple[float, np.ndarray[Any, Any]]] = []
        """Every frame the avatar sent (arrival time, luma at a quarter of its size)."""
        self.audio: list[tuple[float, Samples]] = []
        self.avatar: Any = None
        self.video_source: int | None = None
        self.audio_source: int | None = None
        self.avatar_left = asyncio.Event()
        self._tracks = asyncio.Event()
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: list[Any] = []

    async def join(self, url: str, token: str) -> None:
        rtc = self.rtc
        self.room.on("track_subscribed", self._subscribed)
        self.room.on("participant_disconnected", self._left)
        await self.room.connect(url, token, rtc.RoomOptions(auto_subscribe=True))
        self.room.local_participant.register_rpc_method(
            "lk.playback_started", self._playback("lk.playback_started")
        )
        self.room.local_participant.register_rpc_method(
            "lk.playback_finished", self._playback("lk.playback_finished")
        )

    def _playback(self, method: str) -> Any:
        def handler(data: Any) -> str:
            payload = json.loads(data.payload) if data.payload else {}
            self.playback.append(Playback(time.monotonic(), method, payload))
            self._changed.set()
            return "ok"

        return handler

    def _left(self, participant: Any) -> None:
        if self.avatar is not None and participant.identity == self.avatar.identity:
            self.avatar_left.set()

    def _subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        rtc = self.rtc
        self.avatar = participant
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            self.video_source = publication.source
            self._tasks.append(asyncio.ensure_future(self._watch(track)))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            self.audio_source = publication.source
            self._tasks.append(asyncio.ensure_future(self._listen(track)))
        if self.video_source is not None and self.audio_source is not None:
            self._tracks.set()

    async def wait_for_avatar(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._tracks.wait(), timeout_s)

    async def _watch(self, track: Any) -> None:
        rtc = self.rtc
        stream = rtc.VideoStream(track)
        self._closing.append(stream)
        async for event in stream:
            frame = event.frame
            if frame.type != rtc.VideoBufferType.I420:
                frame = frame.convert(rtc.VideoBufferType.I420)
            luma = np.frombuffer(frame.data, dtype=np.uint8)[: frame.width * frame.height]
            pixels = luma.reshape(frame.height, frame.width)[::4, ::4].copy()
            self.frames.append((time.monotonic(), pixels))

    async def _listen(self, track: Any) -> None:
        rtc = self.rtc
        stream = rtc.AudioStream.from_track(track=track, sample_rate=AGENT_RATE)
        self._closing.append(stream)
        async for event in stream:
            pcm = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            self.audio.append((time.monotonic(), pcm))

    # ----- the protocol ----------------------------------------------------------------------

    async def speak(self, samples: Samples, *, realtime: bool = False) -> None:
        """One utterance to the avatar: a byte stream, closed at its end. A TTS sends faster
        than real time; `realtime` paces it as a live stream would."""
        assert self.avatar is not None, "no avatar in the room yet"
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        writer = await self.room.local_participant.stream_bytes(
            name=f"AUDIO_{time.monotonic_ns()}",
            topic="lk.audio_stream",
            destination_identities=[self.avatar.identity],
            attributes={"sample_rate": str(AGENT_RATE), "num_channels": "1"},
        )
        started = time.monotonic()
        for index, start in enumerate(range(0, len(pcm), CHUNK)):
            await writer.write(pcm[start : start + CHUNK].tobytes())
            if realtime:
                wait = started + (index + 1) * CHUNK / AGENT_RATE - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        await writer.aclose()

    async def clear_buffer(self) -> float:
        """The interruption; returns when it was sent."""
        sent = time.monotonic()
        answer = await self.room.local_participant.perform_rpc(
            destination_identity=self.avatar.identity, method="lk.clear_buffer", payload=""
        )
        assert answer == "ok", answer
        return sent

    async def wait_playback(self, method: str, count: int, timeout_s: float) -> list[Playback]:
        deadline = time.monotonic() + timeout_s
        while True:
            events = [p for p in self.playback if p.method == method]
            if len(events) >= count:
                return events
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{count} x {method} not received: {self.playback}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def loudness(self, start: float, end: float) -> float:
        """RMS of the avatar's voice received in [start, end)."""
        parts = [pcm for at, pcm in self.audio if start <= at < end]
        if not parts:
            return 0.0
        samples = np.concatenate(parts)
        return float(np.sqrt(np.mean(samples**2)))

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for native in self._closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(native.aclose(), 2)
        await self.room.disconnect()
