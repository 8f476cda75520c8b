"""The API's housekeeping of the session queue: expiries, lost workers, `queued` flags.

Media workers claim waiting sessions themselves (store/workers.py); each API process runs this
loop, which is safe to run in several at once: it expires stale credentials, declares workers
whose lease ran out lost (their sessions FAIL, WORKER_LOST, and their partial recordings are
recovered), and marks the sessions beyond the live workers' free slots `queued`.

After the database was unreachable (a PostgreSQL restart), no worker could renew its lease either:
for one lease after the database answers again, lost workers are not declared, so that calls
that went on through the outage are not failed for the silence it imposed on them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from opencharacters.store import workers
from opencharacters.store.availability import database_unreachable, outage
from opencharacters.store.db import Database
from opencharacters.store.sessions import expire_ready

log = logging.getLogger(__name__)

Recover = Callable[[list[workers.LostSession]], None]


class SessionScheduler:
    def __init__(
        self,
        db: Database,
        *,
        lease_s: float,
        tick_s: float,
        recover: Recover | None = None,
    ) -> None:
        self.db = db
        self.lease_s = lease_s
        self.tick_s = tick_s
        self._recover = recover
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failed = False
        self._back_at: float | None = None
        """When the database answered again after a failed pass (monotonic)."""

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> list[workers.LostSession]:
        settling = self._back_at is not None and time.monotonic() - self._back_at < self.lease_s
        with self.db.write_session() as db:
            expire_ready(db)
            lost = [] if settling else workers.sweep_lost(db, self.lease_s)
            workers.mark_queued(db, self.lease_s)
        if lost:
            log.warning("a media worker was lost: %d sessions FAILED (WORKER_LOST)", len(lost))
            if self._recover is not None:
                self._recover(lost)
        return lost

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            self._wake.clear()
            try:
                await asyncio.to_thread(self.run_once)
            except Exception as exc:
                if database_unreachable(exc):
                    log.warning("scheduler pass: the database is unreachable (%s)", exc)
                    self._back_at = None
                    self._failed = True
                elif reason := outage(exc):
                    log.warning("scheduler pass failed: %s", reason)
                else:
                    log.exception("scheduler pass failed")
                continue
            if self._failed:
                self._failed = False
                self._back_at = time.monotonic()
                log.warning(
                    "the database is back; workers' leases are not judged for %.0f s", self.lease_s
                )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="session-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
