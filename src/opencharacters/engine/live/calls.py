"""The live calls of one media-worker process: WHIP offers (or, with the LiveKit transport, a
consume) become calls; calls end into the store.

A session's media runs in the worker that claimed it (the API forwards the offer or the join
there). The
database stays the source of truth for status; this registry only knows which calls it is
running, so a second offer for the same session, a hang-up or a cancel reaches the right call."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from opencharacters.animation.rig import FaceRig
from opencharacters.blobs.store import BlobStore
from opencharacters.dialogue.conversation import conversation_prompt
from opencharacters.dialogue.knowledge.service import KnowledgeBase
from opencharacters.dialogue.tools import ToolSpec, parse_tools
from opencharacters.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from opencharacters.domain.session_states import TERMINAL, SessionStatus, can_transition
from opencharacters.domain.timefmt import utcnow
from opencharacters.engine.live import codecs
from opencharacters.engine.live.admission import (
    MAX_OFFER_BYTES,
    check_media_token,
    check_offer_text,
    same,
)
from opencharacters.engine.live.advertised_address import advertise
from opencharacters.engine.live.backends import BackendLinks
from opencharacters.engine.live.call_metrics import CallMetrics
from opencharacters.engine.live.engines import EngineLoader
from opencharacters.engine.live.transcript import StoreTranscript
from opencharacters.engine.live.transport import WebRtcTransport
from opencharacters.engine.live.worker import (
    CallSpec,
    Ending,
    Outcome,
    SessionWorker,
    T,
    TransportFactory,
)
from opencharacters.engine.recording_uploads import PendingRecordings
from opencharacters.ingest.fetch import FetchPolicy, policy_from_settings
from opencharacters.logs import session_id_var
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.ports import ToolRunner
from opencharacters.settings import Settings
from opencharacters.store.availability import database_unreachable
from opencharacters.store.db import Database
from opencharacters.store.tables import Avatar, RealtimeSession
from opencharacters.store.transcripts import set_recording
from opencharacters.store.voices import resolve_voice

if TYPE_CHECKING:  # the LiveKit SDK loads only where a LiveKit room is joined
    from opencharacters.engine.live.livekit_avatar_integration import AgentAvatarCall

log = logging.getLogger(__name__)

__all__ = ["MAX_OFFER_BYTES", "LiveCalls"]
SHUTDOWN_GRACE_S = 10.0
_REMEMBERED_ENDINGS = 1000
DATABASE_PATIENCE_S = 300.0
"""How long a call's last writes (buffered transcript, its end) wait for an unreachable
database; past it they are logged as lost (the API's lease sweep then fails the session)."""


class _AvatarKnowledge:
    """The worker's view of retrieval: this avatar's documents, as they are at each turn."""

    def __init__(self, knowledge: KnowledgeBase, avatar_id: str) -> None:
        self._knowledge = knowledge
        self._avatar_id = avatar_id

    async def warm(self) -> None:
        await self._knowledge.index_for_avatar(self._avatar_id)

    async def search(self, query: str) -> Sequence[Any]:
        return await self._knowledge.search(self._avatar_id, query)


@dataclass(slots=True)
class LiveCall:
    session_id: str
    token: str
    worker: SessionWorker[Any] | AgentAvatarCall
    close: Callable[[], Awaitable[None]]
    """Closes the caller's side: the aiortc peer, or the LiveKit room (deleted for everyone)."""
    no_caller: str = "The caller's peer did not connect after the offer."
    """The failure when the caller does not connect within connect_timeout_s."""
    task: asyncio.Task[None] | None = None


class LiveCalls:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        knowledge: KnowledgeBase | None = None,
        *,
        worker_id: str | None = None,
        on_ended: Callable[[], None] | None = None,
        models_first: bool = False,
    ) -> None:
        self.settings = settings
        self._knowledge = knowledge
        self._db = db
        self._blobs = blobs
        self.blobs = blobs
        self.worker_id = worker_id
        """Only sessions this worker claimed connect here."""
        self._on_ended = on_ended
        self.engines = EngineLoader(settings.engines, models_first=models_first)
        self.backends = BackendLinks()
        self._calls: dict[str, LiveCall] = {}
        self._transcripts: dict[str, StoreTranscript] = {}
        # Hang-ups repeated after the call ended (END_CALL first, then DELETE) still succeed.
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._lock = asyncio.Lock()
        self._recordings = settings.data_dir / "recordings-in-progress"
        self.uploads = PendingRecordings(
            settings.data_dir / "recordings-pending", blobs, self._note_recording
        )
        """Recordings the blob store refused at the call's end; `run()` them in the worker."""
        self.metrics = CallMetrics()
        codecs.install()

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, session_id: str) -> LiveCall | None:
        return self._calls.get(session_id)

    def session_ids(self) -> list[str]:
        return list(self._calls)

    # ----- signalling ------------------------------------------------------------------------

    async def offer(self, session_id: str, token: str, sdp: str) -> str:
        """Answers a WHIP offer and starts the call; returns the answer SDP."""
        check_offer_text(sdp)
        async with self._lock:
            if session_id in self._calls:
                existing = self._calls[session_id]
                if same(existing.token, token):
                    raise Conflict("This session is already connected; a second offer is refused.")
                raise Unauthorized("Invalid media token for this session.")
            spec = await asyncio.to_thread(self._load_spec, session_id, token)
            call, answer = await self._connect(spec, token, sdp)
            self._calls[session_id] = call
        call.task = asyncio.create_task(self._run(call), name=f"call:{session_id}")
        self.metrics.active.set(len(self._calls))
        return answer

    async def join(self, session_id: str, token: str) -> None:
        """LiveKit transport: the avatar joins the session's room and the call starts (its
        caller, holding the token consume minted, joins the same room)."""
        async with self._lock:
            if session_id in self._calls:
                if same(self._calls[session_id].token, token):
                    raise Conflict("This session's avatar is already in its room.")
                raise Unauthorized("Invalid media token for this session.")
            spec = await asyncio.to_thread(self._load_spec, session_id, token)
            call = await self._join_room(spec, token)
            self._calls[session_id] = call
        call.task = asyncio.create_task(self._run(call), name=f"call:{session_id}")
        self.metrics.active.set(len(self._calls))

    async def start_integration(self, session_id: str) -> bool:
        """`integration: {type: "livekit"}`: once claimed, the avatar joins the developer's own
        room as their agent's face (engine/live/livekit_avatar_integration.py); no consume.
        False: not such a session. A room that cannot be joined FAILS the session."""
        from opencharacters.engine.live.livekit_avatar_integration import (
            AgentAvatarCall,
            RoomJoinFailed,
        )

        if session_id in self._calls:
            return True
        loaded = await asyncio.to_thread(self._load_integration, session_id)
        if loaded is None:
            return False
        spec, integration = loaded
        recorder = (
            self._new_recorder(spec, FaceRig.from_json(spec.rig_json).size)
            if self.settings.record_sessions
            else None
        )
        worker = AgentAvatarCall(spec, integration, recorder)
        # No media token: nobody connects to this call; a random one keeps WHIP's hang-up
        # (which checks it) from ever matching.
        call = LiveCall(spec.session_id, secrets.token_urlsafe(), worker, worker.transport.close)
        try:  # not under the lock: a slow room must not hold up other sessions' offers
            await _check_room_address(
                str(integration["url"]), policy_from_settings(self.settings), self.settings
            )
            await worker.transport.join()
        except RoomJoinFailed as exc:
            log.warning("session %s: %s", session_id, exc)
            worker.end(Ending(Outcome.FAILED, "join failed", str(exc), "LIVEKIT_JOIN_FAILED"))
        async with self._lock:
            self._calls[session_id] = call
        if worker.ending is None:
            worker.session.connected()  # in the room and publishing: RUNNING
        call.task = asyncio.create_task(self._run(call), name=f"call:{session_id}")
        self.metrics.active.set(len(self._calls))
        return True

    async def prepare_persona(self, session_id: str) -> bool:
        """Has the dialogue model read a claimed session's persona while it waits for its caller:
        a long personality takes seconds to read (docs/engines.md), which the first answer
        would otherwise wait for when the greeting is shorter. The call's own `prepare` then
        finds it ready. False: the session is no longer waiting."""
        persona = await asyncio.to_thread(self._load_persona, session_id)
        if persona is None:
            return False
        engines = await self.engines.get()
        started = time.perf_counter()
        await engines.dialogue.prepare(conversation_prompt(*persona))
        seconds = self._persona_read("session_claimed", started)
        log.info("session %s: its persona was read ahead in %.2f s", session_id, seconds)
        return True

    async def read_saved_persona(self, personality: str) -> bool:
        """Reads an avatar's persona in an idle moment, giving way to any call's request
        (`DialogueModel.read_persona`). False: it gave way, or the engines are not loaded
        (an idle worker does not load them for this)."""
        engines = self.engines.loaded()
        if engines is None:
            return False
        started = time.perf_counter()
        if not await engines.dialogue.read_persona(conversation_prompt(personality)):
            return False
        self._persona_read("avatar_saved", started)
        return True

    def _persona_read(self, trigger: str, started: float) -> float:
        seconds = time.perf_counter() - started
        self.metrics.persona_read_ahead.labels(trigger).observe(seconds)
        return seconds

    def _load_persona(self, session_id: str) -> tuple[str, tuple[ToolSpec, ...]] | None:
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None or session.status != SessionStatus.READY:
                return None
            avatar = db.get(Avatar, session.avatar_id)
            if avatar is None:
                return None
            return _persona(session, avatar)

    def _load_integration(self, session_id: str) -> tuple[CallSpec, dict[str, Any]] | None:
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None or session.integration is None:
                return None
            if session.status != SessionStatus.READY:
                return None
            integration = dict(session.integration)
            token = session.connect_token or ""
        return self._load_spec(session_id, token, check_token=False), integration

    def _load_spec(self, session_id: str, token: str, *, check_token: bool = True) -> CallSpec:
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None:
                raise NotFound(f"Realtime session {session_id} not found.")
            if check_token:
                check_media_token(session, token)
            if self.worker_id is not None and session.worker_id != self.worker_id:
                raise Conflict("This session is held by another media worker.")
            avatar = db.get(Avatar, session.avatar_id)
            if avatar is None or avatar.rig_blob is None:
                raise Conflict("The session's avatar was deleted or is not ready.")
            rig_json = self._blobs.get_bytes(avatar.rig_blob)
            voice = resolve_voice(db, session.organization_id, avatar.voice or {})
            if voice.fallback:
                log.info("session %s speaks with a preset: %s", session_id, voice.reason)
            personality, tools = _persona(session, avatar)
            return CallSpec(
                session_id=session.id,
                avatar_id=avatar.id,
                organization_id=session.organization_id,
                rig_json=rig_json,
                voice=voice.voice,
                personality=personality,
                start_script=session.start_script or avatar.start_script,
                max_duration_s=session.max_duration,
                fps=self.settings.video_fps,
                tools=tools,
            )

    def _new_worker(
        self, spec: CallSpec, transport: TransportFactory[T], tools: ToolRunner
    ) -> SessionWorker[T]:
        clock = SessionClock()
        transcript = self._transcripts[spec.session_id] = StoreTranscript(
            self._db, spec.session_id, clock
        )
        worker = SessionWorker(
            spec,
            transport=transport,
            engines=self.engines,
            engine_settings=self.settings.engines,
            clock=clock,
            transcript=transcript,
            tool_backend=tools,
            knowledge=_AvatarKnowledge(self._knowledge, spec.avatar_id)
            if self._knowledge
            else None,
        )
        if self.settings.record_sessions:
            worker.recorder = self._new_recorder(spec, worker.frame_size)
        return worker

    async def _join_room(self, spec: CallSpec, token: str) -> LiveCall:
        from opencharacters.engine.live.livekit_transport import LiveKitTransport, RoomRpc

        settings = self.settings.livekit
        rpc = RoomRpc()  # backend tools are RPC calls to the backend in the same room
        worker = self._new_worker(
            spec,
            lambda clock, speaker, face, size: LiveKitTransport(
                spec.session_id, clock, speaker, face, settings, size, rpc
            ),
            rpc,
        )
        try:
            await worker.transport.join()
        except Exception as exc:
            log.warning("session %s: joining its LiveKit room failed: %s", spec.session_id, exc)
            await worker.transport.close()
            if worker.recorder is not None:
                worker.recorder.abort()
            raise ServiceUnavailable(
                "The avatar could not join the session's LiveKit room; retry in a moment."
            ) from None
        return LiveCall(
            spec.session_id,
            token,
            worker,
            worker.transport.close,
            no_caller="The caller did not join the session's LiveKit room after consume.",
        )

    async def _connect(self, spec: CallSpec, token: str, sdp: str) -> tuple[LiveCall, str]:
        ice = [RTCIceServer(**server.model_dump()) for server in self.settings.ice_servers]
        peer = RTCPeerConnection(RTCConfiguration(iceServers=ice))
        worker = self._new_worker(
            spec,
            lambda clock, speaker, face, _size: WebRtcTransport(
                spec.session_id, clock, speaker, face
            ),
            self.backends,
        )
        transport = worker.transport
        peer.on("datachannel", transport.channel.attach)
        peer.on("track", transport.caller_track)

        @peer.on("connectionstatechange")
        def _state_changed() -> None:
            transport.connection_state_changed(peer.connectionState)

        try:
            await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            await peer.close()
            raise BadRequest(f"body: the SDP offer could not be used: {exc}"[:300]) from None
        kinds = {t.kind for t in peer.getTransceivers()}
        missing = [kind for kind in ("audio", "video") if kind not in kinds]
        if missing:
            await peer.close()
            raise BadRequest(
                "body: the offer needs an audio transceiver (the caller's microphone, sendrecv) "
                f"and a video transceiver (recvonly, for the avatar); it has no {missing[0]}"
            )
        for transceiver in peer.getTransceivers():
            if transceiver.kind == "audio":
                transport.caller_audio_receiver(transceiver.receiver)
                break
        peer.addTrack(transport.audio_track)
        peer.addTrack(transport.video_track)
        try:
            answer = await peer.createAnswer()
            await peer.setLocalDescription(answer)
        except Exception as exc:
            await peer.close()
            raise BadRequest(f"body: no answer can be made for this offer: {exc}"[:300]) from None
        assert peer.localDescription is not None
        sdp = peer.localDescription.sdp
        if self.settings.media_advertise_address:
            sdp = advertise(sdp, self.settings.media_advertise_address)
        return LiveCall(spec.session_id, token, worker, peer.close), sdp

    def _new_recorder(self, spec: CallSpec, size: tuple[int, int]) -> Any:
        from opencharacters.media.recording import CallRecorder

        return CallRecorder(
            recording_path(self._recordings, spec.session_id),
            width=size[0],
            height=size[1],
            fps=spec.fps,
            pixel_format="bgr24",  # the renderer's frames, as they are
            niceness=self.settings.recording_niceness,
        )

    async def hang_up(self, session_id: str, token: str) -> None:
        call = self._calls.get(session_id)
        if call is None:
            ended = self._ended.get(session_id)
            if ended is not None and hmac.compare_digest(ended.encode(), token.encode()):
                return
            raise NotFound(f"No live call for session {session_id} with this token.")
        if not hmac.compare_digest(call.token.encode(), token.encode()):
            raise NotFound(f"No live call for session {session_id} with this token.")
        call.worker.end(Ending(Outcome.COMPLETED, "the caller hung up (WHIP DELETE)"))
        await self._wait(call)

    async def cancel(self, session_id: str) -> bool:
        """DELETE of the session: ends its call here as CANCELLED. False: no call here."""
        if not self.end(session_id, Ending(Outcome.CANCELLED, "cancelled through the API")):
            return False
        call = self._calls.get(session_id)
        if call is not None:
            await self._wait(call)
        return True

    def end(self, session_id: str, ending: Ending) -> bool:
        """Ends the call now without waiting for it to wind down. False: no call here."""
        call = self._calls.get(session_id)
        if call is None:
            return False
        call.worker.end(ending)
        return True

    def end_for_status(self, session_id: str, status: str) -> None:
        """The database says the session ended elsewhere (a DELETE handled by an API process,
        expiry, a lost lease): end its call here. Its status is already final."""
        outcome = Outcome(status) if status in Outcome.__members__ else Outcome.FAILED
        self.end(session_id, Ending(outcome, f"the session became {status} elsewhere"))

    async def stop_all(self) -> None:
        for call in list(self._calls.values()):
            call.worker.end(
                Ending(
                    Outcome.FAILED,
                    "server shutdown",
                    failure="The server shut down during the call.",
                    failure_code="SERVER_SHUTDOWN",
                )
            )
        await asyncio.gather(*(self._wait(call) for call in list(self._calls.values())))

    async def _wait(self, call: LiveCall) -> None:
        if call.task is not None:
            await asyncio.wait({call.task}, timeout=SHUTDOWN_GRACE_S)

    # ----- the call's life -------------------------------------------------------------------

    async def _run(self, call: LiveCall) -> None:
        session_id_var.set(call.session_id)  # this task's log records name the session
        worker = call.worker
        running = False
        try:
            if await worker.wait_connected(self.settings.connect_timeout_s):
                running = await asyncio.to_thread(self._mark_running, call.session_id)
                if not running:
                    worker.end(Ending(Outcome.CANCELLED, "the session ended before connecting"))
                else:
                    if worker.recorder is not None:
                        worker.recorder.start()
                    await worker.converse()
            elif worker.ending is None:
                worker.end(
                    Ending(
                        Outcome.FAILED,
                        "no connection",
                        failure=call.no_caller,
                        failure_code="CONNECTION_TIMEOUT",
                    )
                )
        except Exception as exc:
            log.exception("session %s: the call failed", call.session_id)
            worker.end(
                Ending(
                    Outcome.FAILED,
                    "worker error",
                    failure=f"The call failed: {type(exc).__name__}: {exc}"[:500],
                    failure_code="INTERNAL",
                )
            )
        finally:
            await self._finish(call, running)

    def _mark_running(self, session_id: str) -> bool:
        from opencharacters.store.sessions import set_status

        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id, with_for_update=True)
            if session is None or session.status != SessionStatus.READY:
                return False
            set_status(db, session, SessionStatus.RUNNING)
            session.alive_at = session.started_at
            return True

    async def _finish(self, call: LiveCall, running: bool) -> None:
        worker = call.worker
        ending = worker.ending or Ending(Outcome.COMPLETED, "ended")
        ended_at = utcnow()  # the call's end, whatever storing its recording takes
        try:
            await worker.shutdown()
        except Exception:
            log.exception("session %s: stopping the worker failed", call.session_id)
        try:
            await call.close()
        except Exception:
            log.exception("session %s: closing the caller's side failed", call.session_id)
        blob_key: str | None = None
        if worker.recorder is not None:
            blob_key = await self._store_recording(call, running)
        transcript = self._transcripts.pop(call.session_id, None)
        if transcript is not None:
            # Entries buffered while the database was away go in before the call's end.
            await transcript.flush(DATABASE_PATIENCE_S)
            await transcript.close()
        await self._write_end(call.session_id, ending, blob_key, ended_at)
        self._calls.pop(call.session_id, None)
        await self.backends.end(call.session_id)
        self._ended[call.session_id] = call.token
        while len(self._ended) > _REMEMBERED_ENDINGS:
            self._ended.popitem(last=False)
        if self._on_ended is not None:
            self._on_ended()
        stats = worker.stats()
        self.metrics.active.set(len(self._calls))
        try:
            self.metrics.call_ended(ending, stats, worker.recording_duration_s() if running else 0)
        except Exception:  # metrics never take a call's end down
            log.exception("session %s: call metrics failed", call.session_id)
        log.info(
            "session %s ended %s (%s): %s",
            call.session_id,
            ending.outcome.value,
            ending.reason,
            stats,
        )

    async def _write_end(
        self, session_id: str, ending: Ending, blob_key: str | None, ended_at: datetime
    ) -> None:
        """Writes the session's end, retried while the database is unreachable (bounded)."""
        deadline = time.monotonic() + DATABASE_PATIENCE_S
        while True:
            try:
                await asyncio.to_thread(self._end_session, session_id, ending, blob_key, ended_at)
                return
            except Exception as exc:
                if not database_unreachable(exc) or time.monotonic() > deadline:
                    log.exception("session %s: recording its end failed", session_id)
                    return
                log.warning(
                    "session %s: the database is unreachable; its end is written when it returns",
                    session_id,
                )
                await asyncio.sleep(1.0)

    async def _store_recording(self, call: LiveCall, running: bool) -> str | None:
        recorder = call.worker.recorder
        if recorder is None:
            return None
        if not running:
            recorder.abort()
            return None
        try:
            info = await recorder.finish(call.worker.recording_duration_s())
            key = f"recordings/{call.worker.spec.organization_id}/{call.session_id}.mp4"
            if await self.uploads.store(call.session_id, key, Path(info.path)):
                return key
            return None  # kept on disk: the conversation gets it once the store takes it
        except Exception:
            log.exception("session %s: the recording could not be finished", call.session_id)
            return None

    def _note_recording(self, session_id: str, key: str) -> None:
        with self._db.session() as db:
            set_recording(db, session_id, key)

    def _end_session(
        self, session_id: str, ending: Ending, blob_key: str | None, ended_at: datetime
    ) -> None:
        from opencharacters.store.sessions import set_status

        target = SessionStatus(ending.outcome.value)
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id, with_for_update=True)
            if session is None:
                return
            if blob_key is not None:
                set_recording(db, session_id, blob_key)
            current = SessionStatus(session.status)
            if current in TERMINAL:
                return
            if target is SessionStatus.COMPLETED and current is SessionStatus.READY:
                target = SessionStatus.FAILED
                ending = Ending(
                    Outcome.FAILED,
                    ending.reason,
                    failure="The caller left before the call connected.",
                    failure_code="CONNECTION_TIMEOUT",
                )
            if not can_transition(current, target):
                target = SessionStatus.FAILED
            set_status(
                db,
                session,
                target,
                failure=ending.failure,
                failure_code=ending.failure_code,
                now=ended_at,
            )


def _persona(session: RealtimeSession, avatar: Avatar) -> tuple[str, tuple[ToolSpec, ...]]:
    """The personality the session speaks with (its override, else the avatar's) and its
    actions: what its conversation's system prompt is made of."""
    return session.personality or avatar.personality, tuple(parse_tools(session.tools or []))


def recording_path(directory: Path, session_id: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{session_id}-{int(time.time())}.mp4"


async def _check_room_address(url: str, policy: FetchPolicy, settings: Settings) -> None:
    """The developer's LiveKit URL is theirs to choose, but the worker connects from inside
    the deployment: like fetched images, it may only reach public addresses, the networks the
    operator allows, or the deployment's own LiveKit server, so that a session cannot probe
    the deployment's private services."""
    from opencharacters.engine.live.livekit_avatar_integration import RoomJoinFailed

    host = urlsplit(url).hostname
    if not host:
        raise RoomJoinFailed("integration.url: the URL has no host")
    if settings.livekit.url and urlsplit(settings.livekit.url).hostname == host:
        return
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise RoomJoinFailed(f"integration.url: the host {host!r} could not be resolved") from None
    if not all(policy.address_allowed(str(info[4][0])) for info in found):
        raise RoomJoinFailed(
            f"integration.url: {host!r} is not a public address; the avatar joins LiveKit "
            "servers on the internet or on networks the operator allows "
            "(OPENCHARACTERS_FETCH_ALLOW_NETWORKS)"
        )
