"""An avatar as the face of someone else's LiveKit agent (`integration: {type: "livekit"}`).

The session's avatar joins the developer's own room with the developer's token and speaks LiveKit
Agents' avatar protocol with their agent:

- the agent sends its speech as byte streams on topic `lk.audio_stream` to the avatar, one
  stream per utterance, 16-bit PCM with `sample_rate` and `num_channels` stream attributes;
  closing a stream ends the utterance;
- on an interruption the agent calls RPC `lk.clear_buffer` on the avatar: what is queued stops
  at once;
- the avatar calls RPC `lk.playback_started` (payload "") on the agent when an utterance starts
  being heard and `lk.playback_finished` (`{"playback_position": s, "interrupted": bool}`) when
  it has been heard to its end or was cleared;
- the avatar publishes the lip-synced face (Camera) and the agent's voice (Microphone) on the
  agent's behalf (the token's `lk.publish_on_behalf` attribute names the agent), so the agent's
  own page shows them as the agent's.

No dialogue model runs: pipeline/audio_driven.py turns the audio into speech on the session clock
and the mouth. The session goes RUNNING as the avatar is in the room and publishing; the agent
leaving, the room closing or the agent's `END_CALL` end it COMPLETED; DELETE leaves the room
(never deletes it: it is the developer's)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

import numpy as np
from livekit import rtc

from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
from opencharacters.engine.live.livekit_media import AvatarPublisher
from opencharacters.engine.live.worker import SessionCall
from opencharacters.pipeline.audio_driven import AudioDrivenAvatar, PlaybackFinished
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.ports import CallRecording
from opencharacters.pipeline.speaker import PLAYOUT_RATE, Speaker

log = logging.getLogger(__name__)

AUDIO_STREAM_TOPIC = "lk.audio_stream"
RPC_CLEAR_BUFFER = "lk.clear_buffer"
RPC_PLAYBACK_STARTED = "lk.playback_started"
RPC_PLAYBACK_FINISHED = "lk.playback_finished"
ATTRIBUTE_PUBLISH_ON_BEHALF = "lk.publish_on_behalf"

JOIN_TIMEOUT_S = 15.0
"""Joining the developer's room: longer than this and the session FAILS (LIVEKIT_JOIN_FAILED)."""
AGENT_WAIT_S = 30.0
"""An agent that never shows up in the room: the session FAILS (AGENT_NOT_FOUND)."""
_RPC_TRIES = 3


class RoomJoinFailed(Exception):
    """The developer's LiveKit server refused the URL or the token, or could not be reached."""


def room_url(url: str) -> str:
    """LiveKit servers are often given as https:// URLs; the SDK signals over WebSocket."""
    if url.startswith("https://"):
        return "wss://" + url.removeprefix("https://")
    if url.startswith("http://"):
        return "ws://" + url.removeprefix("http://")
    return url


class AgentRoom:
    """The avatar's side of the developer's room: media out, the agent's audio and RPCs in."""

    def __init__(
        self,
        session_id: str,
        clock: SessionClock,
        speaker: Speaker,
        face: FaceAnimator,
        integration: dict[str, Any],
        frame_size: tuple[int, int],
    ) -> None:
        self._session_id = session_id
        self._clock = clock
        self._url = room_url(str(integration["url"]))
        self._token = str(integration["token"])
        self.room_name = str(integration["roomName"])
        self.agent_identity: str | None = integration.get("agentIdentity")
        self.room = rtc.Room()
        self._avatar: AudioDrivenAvatar | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._notifications: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._agent_seen = asyncio.Event()
        self._closed = False
        self.media = AvatarPublisher(clock, speaker, face, frame_size)

    def bind(self, avatar: AudioDrivenAvatar) -> None:
        self._avatar = avatar
        self.media.taps = avatar

    # ----- joining ----------------------------------------------------------------------------

    async def join(self) -> None:
        """Joins the room and publishes the face and the voice; raises RoomJoinFailed."""
        room = self.room
        room.on("participant_connected", self._participant_joined)
        room.on("participant_disconnected", self._participant_left)
        room.on("data_received", self._data_received)
        room.on("disconnected", self._room_closed)
        room.register_byte_stream_handler(AUDIO_STREAM_TOPIC, self._stream_received)
        try:
            await asyncio.wait_for(
                room.connect(self._url, self._token, rtc.RoomOptions(auto_subscribe=False)),
                JOIN_TIMEOUT_S,
            )
        except TimeoutError:
            raise RoomJoinFailed(
                f"integration.url: the LiveKit server at {self._url} did not let the avatar "
                f"join room {self.room_name!r} within {JOIN_TIMEOUT_S:g} s"
            ) from None
        except Exception as exc:
            raise RoomJoinFailed(
                f"integration: the LiveKit server at {self._url} refused the avatar's join of "
                f"room {self.room_name!r} with the given token: {exc}"[:500]
            ) from None
        if room.name and room.name != self.room_name:
            raise RoomJoinFailed(
                f"integration.roomName: the token joins room {room.name!r}, not {self.room_name!r}"
            )
        room.local_participant.register_rpc_method(RPC_CLEAR_BUFFER, self._clear_buffer)
        await self._claim_publishing_on_behalf()
        try:
            await self.media.publish(room.local_participant)
        except Exception as exc:
            raise RoomJoinFailed(
                f"integration.token: the avatar may not publish its video and audio in room "
                f"{self.room_name!r} (the token needs canPublish): {exc}"[:500]
            ) from None
        self._spawn(self.media.send_audio())
        self._spawn(self.media.send_video())
        self._spawn(self._send_notifications())
        self._spawn(self._expect_agent())
        for remote in list(room.remote_participants.values()):
            self._participant_joined(remote)

    async def _claim_publishing_on_behalf(self) -> None:
        """The token usually carries `lk.publish_on_behalf` (LiveKit Agents' avatar plugins mint
        it so); when it does not and the agent is named, the avatar sets it (a token without
        canUpdateOwnMetadata cannot, and the media is then shown as the avatar's own)."""
        participant = self.room.local_participant
        current = participant.attributes.get(ATTRIBUTE_PUBLISH_ON_BEHALF)
        if current or not self.agent_identity:
            if current and self.agent_identity is None:
                self.agent_identity = current
            return
        try:
            await asyncio.wait_for(
                participant.set_attributes({ATTRIBUTE_PUBLISH_ON_BEHALF: self.agent_identity}), 3
            )
        except Exception as exc:
            log.info("session %s: lk.publish_on_behalf not set: %s", self._session_id, exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- the agent --------------------------------------------------------------------------

    def _is_agent(self, participant: rtc.RemoteParticipant) -> bool:
        if self.agent_identity is not None:
            return participant.identity == self.agent_identity
        return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT

    def _participant_joined(self, participant: rtc.RemoteParticipant) -> None:
        if self._is_agent(participant):
            self.agent_identity = participant.identity
            self._agent_seen.set()

    async def _expect_agent(self) -> None:
        try:
            await asyncio.wait_for(self._agent_seen.wait(), AGENT_WAIT_S)
        except TimeoutError:
            if self._avatar is not None:
                who = self.agent_identity or "no agent participant"
                self._avatar.end(
                    Ending(
                        Outcome.FAILED,
                        "the agent never joined",
                        failure=f"The agent ({who}) was not in room {self.room_name!r} within "
                        f"{AGENT_WAIT_S:g} s of the avatar joining.",
                        failure_code="AGENT_NOT_FOUND",
                    )
                )

    def _participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.agent_identity and self._avatar is not None:
            self._avatar.left("the agent left the room")

    def _room_closed(self, reason: Any = None) -> None:
        if self._avatar is not None and not self._closed:
            self._avatar.left("the room closed")

    def _data_received(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant
        if sender is None or sender.identity != self.agent_identity or self._avatar is None:
            return
        with contextlib.suppress(ValueError):
            message = json.loads(packet.data)
            if isinstance(message, dict) and message.get("type") == "END_CALL":
                # What Runway's LiveKit plugin sends when its agent session closes.
                self._avatar.end_requested("END_CALL from the agent")

    # ----- the agent's audio ------------------------------------------------------------------

    def _stream_received(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        if sender != self.agent_identity and not (
            self.agent_identity is None and self._known_agent(sender)
        ):
            self._spawn(_discard(reader))
            return
        self._spawn(self._read_stream(reader))

    def _known_agent(self, identity: str) -> bool:
        participant = self.room.remote_participants.get(identity)
        if participant is None or not self._is_agent(participant):
            return False
        self._participant_joined(participant)
        return True

    async def _read_stream(self, reader: rtc.ByteStreamReader) -> None:
        avatar = self._avatar
        if avatar is None:
            await _discard(reader)
            return
        attributes = reader.info.attributes or {}
        try:
            rate = int(attributes["sample_rate"])
            channels = int(attributes["num_channels"])
        except (KeyError, ValueError):
            log.warning(
                "session %s: an audio stream without sample_rate/num_channels: %s",
                self._session_id,
                attributes,
            )
            await _discard(reader)
            return
        number = avatar.open_segment()
        resampler = rtc.AudioResampler(rate, PLAYOUT_RATE, num_channels=1)
        frame_bytes = 2 * channels
        pending = b""
        try:
            async for chunk in reader:
                pending += chunk
                usable = len(pending) - len(pending) % frame_bytes
                if usable == 0:
                    continue
                pcm = np.frombuffer(pending[:usable], dtype=np.int16)
                pending = pending[usable:]
                if channels > 1:
                    pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
                for frame in resampler.push(bytearray(pcm.tobytes())):
                    avatar.push(number, _samples(frame))
            for frame in resampler.flush():
                avatar.push(number, _samples(frame))
        finally:
            avatar.close_segment(number)

    async def _clear_buffer(self, data: rtc.RpcInvocationData) -> str:
        if data.caller_identity != self.agent_identity:
            return "reject"
        if self._avatar is not None:
            self._avatar.clear()
        return "ok"

    # ----- telling the agent ------------------------------------------------------------------

    def playback_started(self) -> None:
        self._notifications.put_nowait((RPC_PLAYBACK_STARTED, ""))

    def playback_finished(self, event: PlaybackFinished) -> None:
        payload = {"playback_position": event.position_s, "interrupted": event.interrupted}
        self._notifications.put_nowait((RPC_PLAYBACK_FINISHED, json.dumps(payload)))

    async def _send_notifications(self) -> None:
        """In order, each retried a few times (as LiveKit Agents' own avatars do)."""
        while True:
            method, payload = await self._notifications.get()
            agent = self.agent_identity
            if agent is None:
                continue
            for attempt in range(_RPC_TRIES):
                try:
                    await self.room.local_participant.perform_rpc(
                        destination_identity=agent, method=method, payload=payload
                    )
                    break
                except rtc.RpcError as exc:
                    if exc.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD:
                        break  # the agent does not listen for this one (started is optional)
                    if attempt == _RPC_TRIES - 1:
                        log.warning("session %s: %s failed: %s", self._session_id, method, exc)
                    else:
                        await asyncio.sleep(0.1)
                except Exception as exc:  # the room is closing
                    log.info("session %s: %s failed: %s", self._session_id, method, exc)
                    break

    # ----- media out --------------------------------------------------------------------------

    # ----- leaving ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Leaves the room; the room is the developer's and stays."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        await self.media.aclose()


def _samples(frame: rtc.AudioFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0


async def _discard(reader: rtc.ByteStreamReader) -> None:
    with contextlib.suppress(Exception):
        async for _ in reader:
            pass


class AgentAvatarCall(SessionCall[AudioDrivenAvatar]):
    """What engine/live/calls.py runs for such a session, as it runs a SessionWorker: the
    clock-bound parts (speaker, face), the room, and the audio-driven avatar between them."""

    def __init__(
        self, spec: CallSpec, integration: dict[str, Any], recorder: CallRecording | None
    ) -> None:
        self.spec = spec
        self.clock = SessionClock()
        rig = FaceRig.from_json(spec.rig_json)
        self.frame_size = rig.size
        self.speaker = Speaker(self.clock.now)
        self.animator = FaceAnimator(rig, fps=spec.fps, renderer=Renderer(rig))
        self.transport = AgentRoom(
            spec.session_id, self.clock, self.speaker, self.animator, integration, self.frame_size
        )
        self.session = AudioDrivenAvatar(
            spec,
            self.clock.now,
            self.speaker,
            self.animator,
            on_started=self.transport.playback_started,
            on_finished=self.transport.playback_finished,
            recorder=recorder,
        )
        self.transport.bind(self.session)

    def stats(self) -> dict[str, Any]:
        return {
            "audioFramesSent": self.transport.media.audio_frames_sent,
            "videoFramesSent": self.transport.media.video_frames_sent,
            "segmentsFinished": self.session.segments_finished,
            "segmentsCleared": self.session.segments_cleared,
            "turns": [],
            "bargeIns": 0,
        }
