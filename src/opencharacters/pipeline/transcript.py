"""The conversation's record, written as the call goes.

The caller's turns are written when they end. The avatar's turns are written as they are heard:
the entry is opened with the first word the caller hears and revised as more words are heard
(one write at a time, at most one per REVISION_INTERVAL_S), then settled with exactly
the words heard and whether the turn was cut. Until it is settled the entry says it was cut
(`interrupted`), so a process killed mid-answer leaves the answer on record as cut, up to the
last revision: at most REVISION_INTERVAL_S behind the sound."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from opencharacters.dialogue.tools import ToolRecord
from opencharacters.pipeline.frames import Interruption, WordHeard
from opencharacters.pipeline.ports import TranscriptSink

log = logging.getLogger(__name__)


REVISION_INTERVAL_S = 0.5
"""At most one revision of an answer this often: a crash loses at most this much of what was
heard, and a call costs its database a few writes per second at most."""


@dataclass(slots=True)
class _Open:
    text: str
    start_s: float
    handle: int | None = None
    full: bool = False
    """The transcript is at its cap: nothing more is written for this turn."""
    writer: asyncio.Task[None] | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class TranscriptWriter:
    name = "transcript"

    def __init__(self, sink: TranscriptSink) -> None:
        self._sink = sink
        self._lock = asyncio.Lock()
        """Writes happen in the order they were asked for (entries get their order there)."""
        self._open: dict[int, _Open] = {}
        self._settled: set[int] = set()

    async def user_turn(self, text: str, at_s: float) -> None:
        async with self._lock:
            await self._sink.entry("user", text, at_s)

    def word_heard(self, word: WordHeard, turn_start_s: float) -> None:
        if word.turn in self._settled:
            return
        entry = self._open.get(word.turn)
        if entry is None:
            entry = self._open[word.turn] = _Open(word.text.strip(), turn_start_s)
        else:
            entry.text += word.text
        if entry.writer is None and not entry.full:
            # Never cancelled with the call's tasks (a write cut in the middle could not tell
            # whether its row exists): `settle` stops it between writes and waits for it.
            entry.writer = asyncio.ensure_future(self._keep_written(entry))

    async def _keep_written(self, entry: _Open) -> None:
        written: str | None = None
        try:
            while entry.text != written and not entry.full and not entry.settled.is_set():
                text = entry.text
                try:
                    async with self._lock:
                        if entry.settled.is_set():
                            return
                        if entry.handle is None:
                            entry.handle = await self._sink.open_entry(
                                "assistant", text, entry.start_s, interrupted=True
                            )
                            entry.full = entry.handle is None
                        else:
                            await self._sink.revise(entry.handle, text, interrupted=True)
                except Exception:  # the settled record is written again at the turn's end
                    log.exception("writing the avatar's words as they are heard failed")
                written = text
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(entry.settled.wait(), REVISION_INTERVAL_S)
        finally:
            entry.writer = None

    async def settle(
        self,
        turn: int,
        heard: str,
        start_s: float | None,
        at_s: float,
        *,
        interrupted: bool,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        """The turn's final record: the words heard (none: no entry, unless it acted)."""
        self._settled.add(turn)
        entry = self._open.pop(turn, None)
        if entry is not None:
            entry.settled.set()
            if entry.writer is not None:
                await asyncio.wait({entry.writer})
        async with self._lock:
            if entry is not None and entry.handle is not None:
                await self._sink.revise(
                    entry.handle, heard or None, interrupted=interrupted, tools=tools
                )
                return
            if entry is not None and entry.full:
                return
            if heard and start_s is not None:
                await self._sink.entry(
                    "assistant", heard, start_s, interrupted=interrupted, tools=tools
                )
            elif tools:
                # An action without words heard (cut off, or said nothing): still on record.
                await self._sink.entry(
                    "assistant",
                    heard or None,
                    start_s if start_s is not None else at_s,
                    interrupted=interrupted,
                    tools=tools,
                )

    def interrupt(self, frame: Interruption) -> None:
        """Nothing to drop: the interrupted turn is settled with the words heard (session)."""
