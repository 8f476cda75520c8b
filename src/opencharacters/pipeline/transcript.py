"""The conversation's record, written as the call goes.

The caller's turns are written when they end. The avatar's turns are written as they are heard:
the entry is opened with the first word the caller hears and revised as more words are heard
(one write at a time; words heard during a write are in the next one), then settled with exactly
the words heard and whether the turn was cut. A process killed mid-answer leaves the answer on
record up to the last revision, a fraction of a second behind the sound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from opencharacters.dialogue.tools import ToolRecord
from opencharacters.pipeline.frames import Interruption, WordHeard
from opencharacters.pipeline.ports import TranscriptSink

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Open:
    text: str
    start_s: float
    handle: int | None = None
    writing: bool = False
    full: bool = False
    """The transcript is at its cap: nothing more is written for this turn."""


class TranscriptWriter:
    name = "transcript"

    def __init__(self, sink: TranscriptSink) -> None:
        self._sink = sink
        self._writes: set[asyncio.Task[None]] = set()
        """Revisions under way: never cancelled with the call's tasks (a write cut in the
        middle could not tell whether its row exists), awaited by `settle`."""
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
        self._kick(word.turn, entry)

    def _kick(self, turn: int, entry: _Open) -> None:
        if not entry.writing and not entry.full:
            entry.writing = True
            task = asyncio.ensure_future(self._write(turn, entry))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, turn: int, entry: _Open) -> None:
        text = entry.text
        try:
            async with self._lock:
                if turn in self._settled:
                    return
                text = entry.text
                if entry.handle is None:
                    entry.handle = await self._sink.open_entry("assistant", text, entry.start_s)
                    entry.full = entry.handle is None
                else:
                    await self._sink.revise(entry.handle, text)
        except Exception:  # the settled record is written again at the turn's end
            log.exception("writing the avatar's words as they are heard failed")
        finally:
            entry.writing = False
        if turn not in self._settled and not entry.full and entry.text != text:
            self._kick(turn, entry)  # words heard during that write

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
        if self._writes:
            await asyncio.wait(set(self._writes))
        async with self._lock:
            self._settled.add(turn)
            entry = self._open.pop(turn, None)
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
