"""Moves queued sessions to READY while capacity allows and expires stale credentials.

The database is the queue, so several server processes could share it; one loop per process
wakes on every change it hears of, and on a tick for expiries."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from opencharacters.store.db import Database
from opencharacters.store.sessions import schedule

log = logging.getLogger(__name__)


class SessionScheduler:
    def __init__(self, db: Database, *, capacity: int, ready_ttl_s: int, tick_s: float) -> None:
        self.db = db
        self.capacity = capacity
        self.ready_ttl_s = ready_ttl_s
        self.tick_s = tick_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> list[str]:
        with self.db.session() as db:
            return schedule(db, capacity=self.capacity, ready_ttl_s=self.ready_ttl_s)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            self._wake.clear()
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("scheduler pass failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="session-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
