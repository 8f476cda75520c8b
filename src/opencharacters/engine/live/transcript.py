"""The transcript sink of a live call in the database (pipeline.ports.TranscriptSink): entries
are appended as the call goes, and the avatar's are revised as its words are heard."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from opencharacters.dialogue.tools import ToolRecord
from opencharacters.pipeline.clock import SessionClock
from opencharacters.store.db import Database
from opencharacters.store.transcripts import append_entry, revise_entry


class StoreTranscript:
    def __init__(self, db: Database, session_id: str, clock: SessionClock) -> None:
        self._db = db
        self._session_id = session_id
        self._clock = clock

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        await self._append(role, content, at_s, interrupted, tools)

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        return await self._append(role, content, at_s, interrupted, tools)

    async def revise(
        self,
        handle: int,
        content: str | None,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        tool_calls = [record.call_json() for record in tools] or None
        tool_results = [record.result_json() for record in tools] or None

        def write() -> None:
            with self._db.session() as db:
                revise_entry(
                    db,
                    self._session_id,
                    handle,
                    content=content,
                    interrupted=interrupted,
                    tool_calls=tool_calls,
                    tool_results=tool_results,
                )

        await asyncio.to_thread(write)

    async def _append(
        self,
        role: str,
        content: str | None,
        at_s: float,
        interrupted: bool,
        tools: Sequence[ToolRecord],
    ) -> int | None:
        timestamp = self._clock.wall(at_s)
        tool_calls = [record.call_json() for record in tools] or None
        tool_results = [record.result_json() for record in tools] or None

        def write() -> int | None:
            with self._db.session() as db:
                return append_entry(
                    db,
                    self._session_id,
                    role=role,
                    content=content,
                    timestamp=timestamp,
                    interrupted=interrupted,
                    tool_calls=tool_calls,
                    tool_results=tool_results,
                )

        return await asyncio.to_thread(write)
