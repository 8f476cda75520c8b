"""The transcript sink of a live call in the database (pipeline.ports.TranscriptSink): entries
are appended as the call goes, and the avatar's are revised as its words are heard.

Writes go through an ordered buffer drained by one task, so the call never waits on the
database: while it is unreachable (PostgreSQL restarting, a network cut) or its disk is full,
the writes wait in the buffer and are retried until it takes them, in their order, and the call
goes on. The buffer is bounded (`MAX_BUFFERED` writes, a few minutes of talk): past it the
oldest waiting revision of a line is dropped first, then new entries, each drop logged.
`flush` waits for the buffer at the call's end, before the session's end is written."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opencharacters.dialogue.tools import ToolRecord
from opencharacters.pipeline.clock import SessionClock
from opencharacters.store.availability import outage
from opencharacters.store.db import Database
from opencharacters.store.transcripts import MAX_ENTRIES, append_entry, revise_entry

log = logging.getLogger(__name__)

MAX_BUFFERED = 500
RETRY_S = (0.25, 0.5, 1.0, 2.0)
"""Waits between attempts while the database is away (the last one repeats)."""


@dataclass(slots=True)
class _Write:
    handle: int
    append: bool
    fields: dict[str, Any]


class StoreTranscript:
    def __init__(self, db: Database, session_id: str, clock: SessionClock) -> None:
        self._db = db
        self._session_id = session_id
        self._clock = clock
        self._pending: deque[_Write] = deque()
        self._seqs: dict[int, int | None] = {}
        """Our handle -> the entry's sequence number in the database (None past the cap)."""
        self._appended = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        self._append(role, content, at_s, interrupted, tools)

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        return self._append(role, content, at_s, interrupted, tools)

    async def revise(
        self,
        handle: int,
        content: str | None,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        # A newer revision of the same line replaces one still waiting: only the last counts.
        for waiting in self._pending:
            if waiting.handle == handle and not waiting.append and waiting is not self._busy():
                self._pending.remove(waiting)
                break
        self._push(
            _Write(
                handle,
                False,
                {
                    "content": content,
                    "interrupted": interrupted,
                    "tool_calls": [record.call_json() for record in tools] or None,
                    "tool_results": [record.result_json() for record in tools] or None,
                },
            )
        )

    async def flush(self, timeout_s: float) -> bool:
        """Waits until every buffered write is in the database (True), or `timeout_s`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        if self._pending:
            log.error(
                "session %s: %d transcript writes could not be stored (the database stayed "
                "unreachable); they are lost",
                self._session_id,
                len(self._pending),
            )
            return False
        return True

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    # ----- the buffer ----------------------------------------------------------------------

    def _append(
        self,
        role: str,
        content: str | None,
        at_s: float,
        interrupted: bool,
        tools: Sequence[ToolRecord],
    ) -> int | None:
        if self._appended >= MAX_ENTRIES:
            return None  # Runway's cap: later entries are not stored
        self._appended += 1
        handle = self._appended
        self._push(
            _Write(
                handle,
                True,
                {
                    "role": role,
                    "content": content,
                    "timestamp": self._clock.wall(at_s),
                    "interrupted": interrupted,
                    "tool_calls": [record.call_json() for record in tools] or None,
                    "tool_results": [record.result_json() for record in tools] or None,
                },
            )
        )
        return handle

    def _busy(self) -> _Write | None:
        return self._pending[0] if self._writer is not None and self._pending else None

    def _push(self, write: _Write) -> None:
        if len(self._pending) >= MAX_BUFFERED:
            self._drop_one()
        self._pending.append(write)
        self._drained.clear()
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name=f"transcript:{self._session_id}")

    def _drop_one(self) -> None:
        busy = self._busy()
        victim = next((w for w in self._pending if not w.append and w is not busy), None)
        if victim is None:
            victim = next((w for w in reversed(self._pending) if w is not busy), None)
        if victim is not None:
            self._pending.remove(victim)
            self.dropped += 1
            log.error(
                "session %s: the transcript buffer is full (%d writes waiting for the database); "
                "one %s was dropped",
                self._session_id,
                MAX_BUFFERED,
                "entry" if victim.append else "revision",
            )

    async def _drain(self) -> None:
        failures = 0
        away_since: float | None = None
        while True:
            if not self._pending:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            write = self._pending[0]
            try:
                await asyncio.to_thread(self._store, write)
            except Exception as exc:
                # The database away or its disk full: the write waits rather than being lost.
                reason = outage(exc)
                if reason is None:
                    log.exception("session %s: a transcript write failed", self._session_id)
                    self._pending.popleft()
                    continue
                if away_since is None:
                    away_since = time.monotonic()
                    log.warning(
                        "session %s: %s; transcript writes are buffered and retried (%s)",
                        self._session_id,
                        reason,
                        exc.__class__.__name__,
                    )
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1
                continue
            self._pending.popleft()
            if away_since is not None:
                log.warning(
                    "session %s: the database takes writes again after %.1f s; buffered "
                    "transcript writes are being stored",
                    self._session_id,
                    time.monotonic() - away_since,
                )
                away_since = None
            failures = 0

    def _store(self, write: _Write) -> None:
        with self._db.session() as db:
            if write.append:
                self._seqs[write.handle] = append_entry(db, self._session_id, **write.fields)
                return
            seq = self._seqs.get(write.handle)
            if seq is not None:
                revise_entry(db, self._session_id, seq, **write.fields)
