"""The caller transport over a LiveKit room: the second adapter of pipeline.ports's CallerTransport.

Everything of the `livekit` SDK is here (and the room's tokens in livekit_room.py). The worker
joins the session's room as `worker:avatar` and publishes the avatar's voice (Microphone source)
and face (Camera source, one layer: no simulcast) read from the speaker and the face animation
on the session clock, as the WHIP tracks do; it hears the caller's microphone and carries the
same data messages as a WHIP call's data channel (Runway's `transcription` and `client_event`
out, `END_CALL` in) as reliable data packets.

The call counts as connected when the caller has joined and subscribed to the avatar's voice
(so the greeting is not spoken into a room nobody listens to yet); it ends as the caller leaves
or the room closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
from livekit import rtc

from opencharacters.animation.stream import FaceAnimator
from opencharacters.dialogue.tools import ToolOutcome
from opencharacters.engine.live.livekit_media import AvatarPublisher
from opencharacters.engine.live.livekit_room import (
    AVATAR_IDENTITY,
    BACKEND_IDENTITY,
    CALLER_IDENTITY_PREFIX,
    avatar_token,
    close_room,
    signalling_url,
)
from opencharacters.engine.live.transport import CALLER_RATE, CallPeer
from opencharacters.media.audio import AudioChunk
from opencharacters.pipeline.channel import CallChannel
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.speaker import Speaker
from opencharacters.settings import LiveKitSettings

log = logging.getLogger(__name__)

_BACKLOG = 500
_SUBSCRIBE_WAIT_S = 3.0
"""A caller who joined but subscribes to nothing (autoSubscribe off) is connected after this."""
_RESYNC_S = 0.25
"""Caller audio this far off its running timeline (a gap, a burst) is stamped by arrival again."""
MEDIA_SERVER_LOST = "MEDIA_SERVER_LOST"
"""The session's failureCode when the LiveKit node carrying its room went away mid-call."""
_ENDED_ON_PURPOSE = {
    rtc.DisconnectReason.CLIENT_INITIATED,
    rtc.DisconnectReason.ROOM_DELETED,
    rtc.DisconnectReason.ROOM_CLOSED,
    rtc.DisconnectReason.PARTICIPANT_REMOVED,
}
_DATA_QUEUE = 1000


class LiveKitTransport:
    def __init__(
        self,
        session_id: str,
        clock: SessionClock,
        speaker: Speaker,
        face: FaceAnimator,
        settings: LiveKitSettings,
        frame_size: tuple[int, int],
        rpc: RoomRpc | None = None,
    ) -> None:
        self._session_id = session_id
        self._clock = clock
        self._settings = settings
        self._peer: CallPeer | None = None
        self.room = rtc.Room()
        if rpc is not None:
            rpc.room = self.room
        self.channel = CallChannel(session_id, self._end_call_requested)
        self._data = RoomData(self._publish_data)
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=_DATA_QUEUE)
        self._audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=_BACKLOG)
        self._tasks: list[asyncio.Task[Any]] = []
        self._caller: str | None = None
        self._subscribed = asyncio.Event()
        self._reconnecting_since: float | None = None
        """Set while the SDK restores a broken connection to the server."""
        self._closed = False
        self.media = AvatarPublisher(clock, speaker, face, frame_size)

    def bind(self, peer: CallPeer) -> None:
        self._peer = peer
        self.media.taps = peer

    # ----- joining the room ----------------------------------------------------------------

    async def join(self) -> None:
        """Joins the session's room and starts publishing the avatar; raises if it cannot."""
        room = self.room
        room.on("participant_connected", self._participant_joined)
        room.on("participant_disconnected", self._participant_left)
        room.on("track_subscribed", self._track_subscribed)
        room.on("local_track_subscribed", lambda _track: self._subscribed.set())
        room.on("data_received", self._data_received)
        room.on("disconnected", self._room_closed)
        room.on("reconnecting", self._reconnecting)
        room.on("reconnected", self._reconnected)
        await room.connect(
            signalling_url(self._settings),
            avatar_token(self._settings, self._session_id),
            rtc.RoomOptions(auto_subscribe=True),
        )
        await self.media.publish(room.local_participant)
        self.channel.attach(self._data)
        self._spawn(self.media.send_audio(), "avatar-audio")
        self._spawn(self.media.send_video(), "avatar-video")
        self._spawn(self._send_data(), "data")
        for participant in list(room.remote_participants.values()):
            self._participant_joined(participant)
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._track_subscribed(publication.track, publication, participant)

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"{self._session_id}:{name}")
        self._tasks.append(task)

    # ----- the room's events ---------------------------------------------------------------

    def _participant_joined(self, participant: rtc.RemoteParticipant) -> None:
        if self._caller is not None or not is_caller(participant.identity):
            return  # one caller per call; the backend and other helpers are not callers
        self._caller = participant.identity
        log.info("session %s: caller %s joined", self._session_id, participant.identity)
        self._spawn(self._connect_when_listening(), "connect")

    async def _connect_when_listening(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), _SUBSCRIBE_WAIT_S)
        if self._peer is not None and not self._closed:
            self._peer.connected()

    def _participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity != self._caller or self._peer is None:
            return
        if self._reconnecting_since is not None:
            # Gone while our own connection to the server is being restored: the server side
            # broke (a node died under the room), the caller did not hang up.
            self._lost("the caller dropped out while the connection was being restored")
        else:
            self._peer.left("the caller left")

    def _reconnecting(self) -> None:
        """The SDK lost its signalling connection and is resuming or rejoining."""
        log.warning("session %s: the LiveKit connection broke; reconnecting", self._session_id)
        if self._reconnecting_since is None:
            self._reconnecting_since = time.monotonic()

    def _reconnected(self) -> None:
        """Back in the room: a resumed connection keeps its caller; a room rebuilt elsewhere
        (its node died and LiveKit placed the room again) has lost them and the call."""
        self._reconnecting_since = None
        caller = self._caller
        if caller is not None and caller not in self.room.remote_participants:
            self._lost("the room came back without its caller")
        else:
            log.warning("session %s: the LiveKit connection is back", self._session_id)

    def _lost(self, what: str) -> None:
        if self._peer is None or self._closed:
            return
        log.warning("session %s: the LiveKit connection was lost: %s", self._session_id, what)
        self._peer.lost(
            f"The connection to the LiveKit media server carrying this call was lost ({what}); "
            "the call ended there.",
            MEDIA_SERVER_LOST,
        )

    def _room_closed(self, reason: Any = None) -> None:
        """The avatar is out of the room. Closed on purpose (the room deleted, the avatar
        removed, our own leave) the call is over; dropped by the server side (a media node
        that died, a signal connection the SDK could not resume) it FAILS: the caller did not
        hang up, the call was cut."""
        if self._peer is None or self._closed:
            return
        if reason in _ENDED_ON_PURPOSE and self._reconnecting_since is None:
            self._peer.left("the room closed")
            return
        self._lost(f"disconnected: {_reason_name(reason)}")

    def _track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity != self._caller or track.kind != rtc.TrackKind.KIND_AUDIO:
            return  # the caller's camera and screen are accepted and not used
        if publication.source not in (
            rtc.TrackSource.SOURCE_MICROPHONE,
            rtc.TrackSource.SOURCE_UNKNOWN,
        ):
            return
        self._spawn(self._read_audio(track), "caller-audio")

    def _data_received(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant
        if sender is None or sender.identity != self._caller:
            return  # END_CALL counts only from the caller
        self._data.receive(packet.data)

    def _end_call_requested(self) -> None:
        if self._peer is not None:
            self._peer.end_requested("END_CALL")

    # ----- CallerTransport -----------------------------------------------------------------

    async def caller_audio(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self._audio.get()) is not None:
            yield chunk

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(message)

    def last_caller_audio_s(self) -> float | None:
        """None: the room says when the caller is gone (they leave, or the server drops them),
        and a caller who mutes sends no audio at all, which must not end the call as the
        pipeline's silent-media guard would (it is for WHIP, where a closed tab stays silent)."""
        return None

    def stop(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()

    async def close(self, *, close_room_for_all: bool = True) -> None:
        """Leaves the room and deletes it, so the caller sees the call end at once."""
        self.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._flush_data()
        if close_room_for_all:
            try:
                await close_room(self._settings, self._session_id)
            except Exception:
                log.exception("session %s: deleting the LiveKit room failed", self._session_id)
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        await self.media.aclose()

    def media_stats(self) -> dict[str, Any]:
        return self.media.stats()

    # ----- media ---------------------------------------------------------------------------

    async def _read_audio(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=CALLER_RATE, num_channels=1)
        expected: float | None = None
        try:
            async for event in stream:
                frame = event.frame
                arrived = self._clock.now()
                pcm = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
                duration = len(pcm) / CALLER_RATE
                start_s = arrived - duration
                if expected is not None and abs(expected - start_s) < _RESYNC_S:
                    start_s = expected  # a steady timeline: arrival jitter is not speech timing
                expected = start_s + duration
                if self._peer is not None:
                    self._peer.caller_audio_received(pcm, CALLER_RATE, start_s)
                try:
                    self._audio.put_nowait(AudioChunk(pcm, CALLER_RATE, start_s))
                except asyncio.QueueFull:
                    log.warning("session %s: caller audio backlog, dropping", self._session_id)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    # ----- data ----------------------------------------------------------------------------

    def _publish_data(self, text: str) -> None:
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("session %s: data messages backlog, dropping", self._session_id)

    async def _send_data(self) -> None:
        while True:
            text = await self._outbox.get()
            await self._publish(text)

    async def _flush_data(self) -> None:
        while not self._outbox.empty():
            await self._publish(self._outbox.get_nowait())

    async def _publish(self, text: str) -> None:
        try:
            await self.room.local_participant.publish_data(text, reliable=True)
        except Exception:  # the room is closing: the call is ending anyway
            log.debug("session %s: publishing data failed", self._session_id, exc_info=True)


def _reason_name(reason: Any) -> str:
    try:
        return str(rtc.DisconnectReason.Name(reason))
    except (ValueError, TypeError):
        return str(reason)


def is_caller(identity: str) -> bool:
    """Callers hold the tokens consume mints (livekit_room.caller_token)."""
    return identity.startswith(CALLER_IDENTITY_PREFIX)


class RoomRpc:
    """`backend_rpc` tools as LiveKit RPC calls from the avatar to the developer's backend in
    the room (connect_backend's participant): method = the tool's name, payload
    `{"args": {...}}`, answer = JSON, within the tool's timeout. What Runway's
    `@runwayml/avatars-node-rpc` helper answers (it takes `payload.args`)."""

    def __init__(self) -> None:
        self.room: rtc.Room | None = None

    async def call(
        self, session_id: str, method: str, args: dict[str, Any], timeout_s: float
    ) -> ToolOutcome:
        started = time.perf_counter()
        room = self.room
        if room is None or not room.isconnected():
            return ToolOutcome.since(started, error="no backend is connected to this session")
        try:
            answer = await room.local_participant.perform_rpc(
                destination_identity=BACKEND_IDENTITY,
                method=method,
                payload=json.dumps({"args": args}, separators=(",", ":")),
                response_timeout=timeout_s,
            )
        except rtc.RpcError as exc:
            return ToolOutcome.since(started, error=rpc_failure(exc, method, timeout_s))
        except Exception as exc:  # the room is closing
            log.info("session %s: backend call %s failed: %s", session_id, method, exc)
            return ToolOutcome.since(started, error=f"the backend call failed: {exc}"[:300])
        try:
            return ToolOutcome.since(started, result=json.loads(answer))
        except ValueError:
            return ToolOutcome.since(
                started, result=answer
            )  # a plain string answer is kept as it is


def rpc_failure(error: rtc.RpcError, method: str, timeout_s: float) -> str:
    """A failed RPC as the tool error the avatar tells the caller about (as with WHIP)."""
    codes = rtc.RpcError.ErrorCode
    if error.code in (codes.RECIPIENT_NOT_FOUND, codes.RECIPIENT_DISCONNECTED):
        return "no backend is connected to this session"
    if error.code in (codes.RESPONSE_TIMEOUT, codes.CONNECTION_TIMEOUT):
        return f"the backend did not answer within {timeout_s:g} s"
    if error.code == codes.UNSUPPORTED_METHOD:
        return f"the backend has no method {method!r}"
    return error.message or f"the backend failed (RPC error {error.code})"


class RoomData:
    """The room's data packets as the data channel CallChannel expects (always open)."""

    readyState = "open"

    def __init__(self, publish: Callable[[str], None]) -> None:
        self._publish = publish
        self._on_message: Callable[[str | bytes], None] | None = None

    def on(self, event: str, callback: Callable[..., None]) -> None:
        if event == "message":
            self._on_message = callback

    def send(self, text: str) -> None:
        self._publish(text)

    def receive(self, data: bytes) -> None:
        if self._on_message is not None:
            self._on_message(data)


__all__ = ["AVATAR_IDENTITY", "LiveKitTransport", "RoomRpc"]
