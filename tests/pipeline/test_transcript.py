"""The transcript writer: the avatar's words on record while they are heard, settled at the
end with exactly the words heard; writes never overlap and never reorder."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from opencharacters.dialogue.tools import ToolCall, ToolOutcome, ToolRecord
from opencharacters.pipeline.frames import WordHeard
from opencharacters.pipeline.transcript import REVISION_INTERVAL_S, TranscriptWriter
from tests.support.pipeline import FakeTranscript
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


class SlowTranscript(FakeTranscript):
    """Each write takes 0.3 s (a busy database), and overlapping writes are an error."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.writes = 0

    async def _slow(self) -> None:
        assert not self.busy, "two writes at once"
        self.busy = True
        self.writes += 1
        await asyncio.sleep(0.3)
        self.busy = False

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        await self._slow()
        return await super().open_entry(role, content, at_s, interrupted=interrupted, tools=tools)

    async def revise(
        self,
        handle: int,
        content: str | None,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        await self._slow()
        await super().revise(handle, content, interrupted=interrupted, tools=tools)


def heard(writer: TranscriptWriter, turn: int, *words: str) -> None:
    """Words as HeardWords hands them on: with the space before them, but the turn's first."""
    for word in words:
        writer.word_heard(WordHeard(turn, word, 0.0), 1.0)


@virtual_time
async def test_words_are_written_as_heard_at_most_one_revision_per_interval() -> None:
    sink = SlowTranscript()
    writer = TranscriptWriter(sink)
    heard(writer, 1, "One")
    await asyncio.sleep(0.1)
    heard(writer, 1, " two", " three")  # during the first write: one revision carries both
    await asyncio.sleep(0.1)
    assert sink.said() == []  # the first write is still running
    await asyncio.sleep(0.2)
    assert sink.said() == [("assistant", "One", True)], "cut, until it is settled"
    # The next revision waits for the interval after that write, then takes everything heard.
    heard(writer, 1, " four")
    await asyncio.sleep(REVISION_INTERVAL_S + 0.3)
    assert sink.said() == [("assistant", "One two three four", True)]
    assert sink.writes == 2
    await asyncio.sleep(2)
    assert sink.writes == 2, "nothing new heard: nothing written"


@virtual_time
async def test_settling_waits_for_writes_and_records_what_was_heard() -> None:
    sink = SlowTranscript()
    writer = TranscriptWriter(sink)
    heard(writer, 1, "One", " two")
    await writer.settle(1, "One two", 1.0, 2.0, interrupted=True)
    assert sink.said() == [("assistant", "One two", True)]
    heard(writer, 1, " three")  # late: the turn is settled
    await asyncio.sleep(1)
    assert sink.said() == [("assistant", "One two", True)]


@virtual_time
async def test_a_turn_never_heard_leaves_no_entry_unless_it_acted() -> None:
    sink = FakeTranscript()
    writer = TranscriptWriter(sink)
    await writer.settle(1, "", None, 3.0, interrupted=True)
    assert sink.said() == []
    record = ToolRecord(ToolCall("c1", "show", {}), ToolOutcome(result={"status": "event_sent"}))
    await writer.settle(2, "", None, 3.0, interrupted=True, tools=[record])
    assert sink.said() == [("assistant", "", True)]
    assert sink.tools == [record]


@virtual_time
async def test_turns_are_recorded_in_the_order_they_were_heard() -> None:
    sink = SlowTranscript()
    writer = TranscriptWriter(sink)
    heard(writer, 1, "Hello")
    user = asyncio.ensure_future(writer.user_turn("Hi", 2.0))
    await user
    await writer.settle(1, "Hello", 1.0, 3.0, interrupted=False)
    assert [role for role, _, _ in sink.said()] == ["assistant", "user"]


class FullTranscript(FakeTranscript):
    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        return None  # the transcript is at its cap


@virtual_time
async def test_a_full_transcript_takes_nothing_more() -> None:
    sink = FullTranscript()
    writer = TranscriptWriter(sink)
    heard(writer, 1, "One")
    await asyncio.sleep(0.1)
    heard(writer, 1, " two")
    await writer.settle(1, "One two", 1.0, 2.0, interrupted=False)
    assert sink.said() == []
