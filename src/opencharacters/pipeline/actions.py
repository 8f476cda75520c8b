"""The session's actions (Runway's tools): the model's call is checked, run, and reported to the
caller's app; `client_event` goes over the data channel, `backend_rpc` to the developer's
backend with a short spoken filler while it works."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opencharacters.dialogue.tools import (
    InvalidArguments,
    ToolCall,
    ToolOutcome,
    ToolRecord,
    ToolSpec,
    check_arguments,
)
from opencharacters.pipeline import channel as messages
from opencharacters.pipeline.frames import Interruption
from opencharacters.pipeline.ports import ToolRunner

FILLER = "One moment, let me check."

RunTool = Callable[[ToolCall], Awaitable[ToolOutcome]]


class Actions:
    name = "actions"

    def __init__(
        self,
        session_id: str,
        tools: Sequence[ToolSpec],
        send: Callable[[dict[str, Any]], None],
        backend: ToolRunner | None,
    ) -> None:
        self._session_id = session_id
        self._tools = {tool.name: tool for tool in tools}
        self._send = send
        self._backend = backend

    def runner(self, records: list[ToolRecord], say: Callable[[str], Awaitable[None]]) -> RunTool:
        """Runs the calls of one reply, keeping their records in `records`; `say` speaks the
        filler in that reply."""

        async def run(call: ToolCall) -> ToolOutcome:
            tool = self._tools[call.name]
            try:
                checked = ToolCall(call.id, call.name, check_arguments(tool, call.arguments))
            except InvalidArguments as exc:
                # Never forwarded: the model hears why and tells the caller it could not do it.
                record = ToolRecord(call, ToolOutcome(error=f"invalid arguments: {exc}"))
                records.append(record)
            else:
                # On the reply before it runs: a barge-in mid-call still leaves it on record.
                record = ToolRecord(checked)
                records.append(record)
                record.outcome = await self._run(tool, checked, say)
            self._send({"type": messages.EVENT_TOOL, **record.call_json(), **record.result_json()})
            return record.outcome

        return run

    async def _run(
        self, tool: ToolSpec, call: ToolCall, say: Callable[[str], Awaitable[None]]
    ) -> ToolOutcome:
        if tool.type == "client_event":
            started = time.perf_counter()
            self._send(messages.client_event(tool.name, call.arguments))
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return ToolOutcome(result={"status": "event_sent"}, duration_ms=elapsed)
        if self._backend is None:
            return ToolOutcome(error="no backend is connected to this session", duration_ms=0.0)
        # A short filler while the backend works, so the caller is not left in silence.
        filler = asyncio.ensure_future(say(FILLER))
        try:
            return await self._backend.call(
                self._session_id, tool.name, call.arguments, tool.timeout_s
            )
        finally:
            await asyncio.wait({filler})

    def interrupt(self, frame: Interruption) -> None:
        """A call under way belongs to the reply, which is cancelled: so is the call."""
