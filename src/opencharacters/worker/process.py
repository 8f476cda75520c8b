"""`opencharacters worker`: one media-worker process.

It registers in the database (id, internal address, slots), renews its lease every
`worker_heartbeat_s` (which also marks its running calls alive: a crash ends them there), claims
waiting sessions while it has free slots, answers the offers the API forwards, and ends a call
within a heartbeat when the database says its session ended elsewhere (a DELETE handled by any
API process). SIGTERM ends its calls at once (FAILED, SERVER_SHUTDOWN, recordings stored) and
fails the READY sessions no caller reached yet, then it deregisters and exits. A worker whose
lease was declared lost (it stalled for longer than `worker_lease_s`) ends its calls, whose
sessions are already FAILED, and registers again under a new id."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import uvicorn

from opencharacters.background_cpu import BackgroundCpu
from opencharacters.blobs.factory import open_blob_store
from opencharacters.dialogue.knowledge.service import KnowledgeBase
from opencharacters.engine.live.admission import internal_token
from opencharacters.engine.live.calls import LiveCalls
from opencharacters.settings import Settings
from opencharacters.store import workers as store
from opencharacters.store.availability import outage
from opencharacters.store.avatars import recent_personalities
from opencharacters.store.db import Database
from opencharacters.store.tables import RealtimeSession
from opencharacters.worker.internal_api import internal_app

log = logging.getLogger(__name__)
T = TypeVar("T")
SERVER_STOP_S = 3.0
PERSONA_POLL_S = 1.0
"""How often an idle worker looks for newly saved avatars whose personas it has not read."""


class MediaWorkerProcess:
    def __init__(
        self,
        settings: Settings,
        *,
        slots: int,
        host: str = "127.0.0.1",
        port: int = 0,
        advertise_url: str | None = None,
        worker_id: str | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.settings = settings
        self.slots = slots
        self.host = host
        self.port = port
        self.advertise_url = advertise_url
        self.worker_id = worker_id or str(uuid.uuid4())
        self.parent_pid = parent_pid
        """Supervised by `serve`: when that process is gone, take no new calls and exit once
        the running ones end (a dead API takes no call with it)."""
        self._control_thread = ThreadPoolExecutor(1, thread_name_prefix="worker-lease")
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._draining = False
        self._starting: set[asyncio.Task[None]] = set()
        self._persona_pass: asyncio.Task[bool] | None = None
        settings.ensure_data_dir()
        self.db = Database(settings.resolved_database_url)
        self.blobs = open_blob_store(settings)
        self.knowledge = KnowledgeBase(
            self.db, settings.engines, background_cpu=BackgroundCpu(settings.background_niceness)
        )
        self.live = LiveCalls(
            settings,
            self.db,
            self.blobs,
            self.knowledge,
            worker_id=self.worker_id,
            on_ended=self.wake,
            models_first=True,  # this process runs calls only
        )

    def wake(self) -> None:
        self._wake.set()

    async def _control(self, work: Callable[..., T], *args: Any) -> T:
        """Lease, claim and registration work runs on a thread of its own: in the shared default
        pool it queued behind speech and dialogue inference on a busy box, the heartbeat came
        more than a lease late and a healthy worker was declared lost."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._control_thread, functools.partial(work, *args))

    def stop(self) -> None:
        self._stop.set()

    # ----- life ------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.db.migrate()
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        address = self.advertise_url or (
            f"http://{_reachable(self.host, self.settings.media_advertise_address)}:{port}"
        )
        token = internal_token(self.settings.resolved_secret_key)
        server = _QuietServer(
            uvicorn.Config(
                internal_app(self.live, self.db, self, token),
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=int(SERVER_STOP_S),
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[listener]), name="internal-http")
        if self.settings.preload_engines:
            # Take calls only once the models are in memory: a session waits queued rather
            # than greeting its caller 30 s late (loading takes 10-40 s on a small box).
            self.live.engines.warm()
            await self.live.engines.get()
        await self._control(self._register, address)
        log.warning(
            "media worker %s at %s with %d slots (pid %d)",
            self.worker_id,
            address,
            self.slots,
            os.getpid(),
        )
        tasks = [
            asyncio.create_task(self._keep_lease(address), name="lease"),
            asyncio.create_task(self._claim_loop(), name="claims"),
            asyncio.create_task(self._read_saved_personas(), name="personas"),
            asyncio.create_task(self.live.uploads.run(), name="recording-uploads"),
        ]
        try:
            await self._stop.wait()
        finally:
            self._draining = True
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.live.stop_all()
            try:
                await self._control(self._deregister)
            except Exception:  # the lease runs out instead: its sessions FAIL as WORKER_LOST
                log.exception("worker %s: deregistering failed", self.worker_id)
            # uvicorn waits for open connections to close; a peer gone without a FIN (a killed
            # API process) left a stopping worker idle forever.
            server.should_exit = True
            try:
                await asyncio.wait_for(serving, SERVER_STOP_S)
            except (TimeoutError, asyncio.CancelledError):
                server.force_exit = True
                serving.cancel()
            await self.knowledge.stop()
            self._control_thread.shutdown(wait=False)
            self.db.dispose()
            log.warning("media worker %s stopped", self.worker_id)

    def _register(self, address: str) -> None:
        with self.db.write_session() as db:
            store.register(db, address=address, slots=self.slots, worker_id=self.worker_id)

    def _deregister(self) -> None:
        with self.db.write_session() as db:
            store.fail_worker_sessions(
                db,
                self.worker_id,
                failure="The media worker holding this session shut down.",
                failure_code=store.SERVER_SHUTDOWN,
            )
            store.deregister(db, self.worker_id)

    # ----- the lease and call control --------------------------------------------------------

    async def _keep_lease(self, address: str) -> None:
        interval = self.settings.worker_heartbeat_s
        while True:
            try:
                renewed, ended = await self._control(self._heartbeat)
                if not renewed:
                    await self._lease_lost(address)
                for session_id, status in ended.items():
                    self.live.end_for_status(session_id, status)
            except Exception as exc:  # the next beat tries again; the loop must never end
                # In an outage calls go on; their transcript writes wait in their buffers.
                self._report(exc, "renewing the lease failed")
            if self._orphaned() and not self._draining:
                log.warning("worker %s: its supervisor is gone; finishing calls", self.worker_id)
                self._draining = True
            if self._draining and len(self.live) == 0:
                self.stop()
            await asyncio.sleep(interval)

    def _heartbeat(self) -> tuple[bool, dict[str, str]]:
        """Renews the lease; returns it and the calls here whose sessions ended elsewhere."""
        with self.db.session() as db:
            renewed = store.heartbeat(db, self.worker_id)
            running = store.statuses(db, self.live.session_ids())
        ended = {sid: status for sid, status in running.items() if status in _FINAL}
        return renewed, ended

    async def _lease_lost(self, address: str) -> None:
        """Declared lost while alive (a long stall): its sessions already FAILED elsewhere."""
        log.error("worker %s: its lease was lost; ending its calls", self.worker_id)
        for session_id in self.live.session_ids():
            self.live.end_for_status(session_id, "FAILED")
        self.worker_id = str(uuid.uuid4())
        self.live.worker_id = self.worker_id
        await self._control(self._register, address)
        log.warning("worker registered again as %s", self.worker_id)

    def _orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    # ----- claiming sessions -----------------------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self.settings.worker_claim_poll_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
            self._wake.clear()
            if self._draining:
                continue
            try:
                claimed = await self._control(self._claim)
            except Exception as exc:
                self._report(exc, "claiming sessions failed")
                continue
            if claimed:
                log.info("worker %s claimed %s", self.worker_id, list(claimed))
                if self._persona_pass is not None:
                    self._persona_pass.cancel()  # the persona read in an idle moment gives way
                self.live.engines.warm()
                # This process's knowledge index for each avatar is built while the session
                # waits for its caller, not during the greeting (the API's index is its own).
                self.knowledge.refresh(set(claimed.values()))
                for session_id in claimed:
                    task = asyncio.create_task(self._get_ready(session_id))
                    self._starting.add(task)
                    task.add_done_callback(self._starting.discard)

    async def _get_ready(self, session_id: str) -> None:
        """What a claimed session does before its caller comes: a LiveKit agent's face joins
        its room; any other session has its persona read (the first answer need not wait)."""
        try:
            if await self.live.start_integration(session_id):
                return
        except Exception:
            log.exception("session %s: starting its LiveKit integration failed", session_id)
            return
        try:
            await self.live.prepare_persona(session_id)
        except Exception as exc:  # the call reads it at its start instead
            log.warning("session %s: reading its persona ahead failed: %r", session_id, exc)

    # ----- reading personas while idle --------------------------------------------------------

    async def _read_saved_personas(self) -> None:
        """While this worker holds no session, it reads the personas of the avatars saved most
        recently (docs/engines.md: 1,500 characters take ~9 s here), so a new avatar's first
        call answers as quickly as its later ones. Each is read once per process; a claim
        stops the reading within a step (`_claim_loop` cancels this pass)."""
        count = self.settings.engines.dialogue.read_saved_personas
        read: set[str] = set()
        while count:
            await asyncio.sleep(PERSONA_POLL_S)
            if self._draining or len(self.live) or self._starting:
                continue
            try:
                recent = await self._control(self._idle_personalities, count)
            except Exception as exc:
                self._report(exc, "looking for personas failed")
                continue
            if recent is None:
                continue
            read &= set(recent)  # only the recent ones are remembered
            for personality in recent:
                if personality not in read:
                    if not await self._read_persona(personality):
                        break  # a claim, a call's request, or engines not loaded yet
                    read.add(personality)

    async def _read_persona(self, personality: str) -> bool:
        """One persona, as a task a claim cancels. True: read, or failed for good (longer than
        n_ctx, say: not worth retrying); False: it gave way and is read another time."""
        task = asyncio.create_task(self.live.read_saved_persona(personality))
        self._persona_pass = task
        try:
            await asyncio.wait({task})
        finally:
            self._persona_pass = None
            task.cancel()  # stopping the worker: the read stops after its step
        if task.cancelled():
            return False
        if (failure := task.exception()) is not None:
            log.warning("worker %s: reading a persona failed: %r", self.worker_id, failure)
            return True
        return task.result()

    def _report(self, exc: Exception, failed: str) -> None:
        """One warning line for an outage an operator mends (database away, disk full or
        read-only); a traceback for anything else."""
        if reason := outage(exc):
            log.warning("worker %s: %s: %s", self.worker_id, failed, reason)
        else:
            log.exception("worker %s: %s", self.worker_id, failed)

    def _idle_personalities(self, count: int) -> list[str] | None:
        """The recent avatars' personalities; None while this worker holds a session."""
        with self.db.session() as db:
            if store.held_count(db, self.worker_id):
                return None
            return recent_personalities(db, count)

    def _claim(self) -> dict[str, str]:
        """The sessions claimed now, with their avatars."""
        with self.db.session() as db:  # a cheap read first: most passes find nothing
            if not store.has_waiting(db):
                return {}
        with self.db.write_session() as db:
            ids = store.claim(
                db,
                self.worker_id,
                ready_ttl_s=self.settings.session_ready_ttl_s,
                lease_s=self.settings.worker_lease_s,
            )
            return {
                session_id: session.avatar_id
                for session_id in ids
                if (session := db.get(RealtimeSession, session_id)) is not None
            }


_FINAL = {"COMPLETED", "CANCELLED", "FAILED"}


class _QuietServer(uvicorn.Server):
    """The internal endpoint leaves SIGTERM to the worker, which ends its calls first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _reachable(host: str, advertised: str | None) -> str:
    if host in ("0.0.0.0", "", "::"):
        host = advertised or socket.gethostname()
    return f"[{host}]" if ":" in host else host
