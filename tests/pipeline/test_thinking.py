"""The dialogue stage: knowledge within its deadline, and speculative replies kept only for
exactly the words the caller finished with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from opencharacters.dialogue.tools import ToolSpec
from opencharacters.engine_settings import DialogueSettings
from opencharacters.pipeline.frames import Interruption, InterruptionCause
from opencharacters.pipeline.stage import StageTasks
from opencharacters.pipeline.thinking import KNOWLEDGE_TIMEOUT_S, Thinking
from tests.support.pipeline import FakeModel
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


@dataclass
class Passage:
    text: str
    score: float
    document_name: str = "FAQ"
    headings: tuple[str, ...] = ()

    def as_note(self) -> str:
        return self.text


class Documents:
    def __init__(self, found: Sequence[Passage], delay_s: float = 0.0) -> None:
        self.found = list(found)
        self.delay_s = delay_s

    async def warm(self) -> None:
        pass

    async def search(self, query: str) -> Sequence[Any]:
        await asyncio.sleep(self.delay_s)
        return self.found


async def thinking(
    knowledge: Documents | None = None, replies: dict[str, str] | None = None
) -> tuple[Thinking, FakeModel]:
    loop = asyncio.get_running_loop()
    tasks = StageTasks("s", lambda stage, exc: pytest.fail(f"{stage}: {exc}"))
    stage = Thinking("s", "You are a test.", (), DialogueSettings(), knowledge, loop.time, tasks)
    model = FakeModel(replies or {})
    await stage.start(model, None)
    return stage, model


@virtual_time
async def test_passages_far_behind_the_best_are_left_out() -> None:
    found = [Passage("a", 0.9), Passage("b", 0.6), Passage("c", 0.3)]
    stage, _ = await thinking(Documents(found))
    notes = await stage.notes_for("returns?")
    assert [n.text for n in notes] == ["a", "b"]


@virtual_time
async def test_a_slow_search_is_given_up_at_its_deadline() -> None:
    stage, _ = await thinking(Documents([Passage("a", 1.0)], delay_s=3.0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await stage.notes_for("returns?") == ()
    assert loop.time() - started == pytest.approx(KNOWLEDGE_TIMEOUT_S)


@virtual_time
async def test_a_speculation_is_taken_for_the_same_words_only() -> None:
    stage, model = await thinking(replies={"Book a table": "Sure.", "Hi": "Hello."})
    stage.speculate("Book a table")
    stage.speculate("Book a table")  # the same pause again: not started twice
    await asyncio.sleep(0.1)
    assert model.calls == ["Book a table"]
    taken = stage.take_speculation("Book a table")
    assert taken is not None
    assert [chunk async for chunk in taken.drain()] == ["Sure."]
    stage.speculate("Hi")
    assert stage.take_speculation("Hi there") is None, "other words: dropped"
    await asyncio.sleep(0.1)
    assert stage.take_speculation("Hi") is None, "and not kept for later"


@virtual_time
async def test_an_interruption_drops_the_speculation() -> None:
    stage, _ = await thinking(replies={"Wait": "Yes?"})
    stage.speculate("Wait")
    stage.interrupt(Interruption(InterruptionCause.BARGE_IN, 1, 0.0, "", 0.0, 0.0))
    assert stage.take_speculation("Wait") is None


@virtual_time
async def test_reading_ahead_reads_the_newest_words_and_reuses_the_search() -> None:
    documents = Documents([Passage("Open 9 to 5.", 0.9)])
    stage, model = await thinking(documents)
    await asyncio.sleep(0.01)  # the persona is ready
    model.read_ahead_s = 0.3
    stage.read_ahead("When")
    stage.read_ahead("When are")  # arrives while "When" is read: read next...
    stage.read_ahead("When are you")  # ...unless newer words come first
    await asyncio.sleep(1.0)
    assert [m[-1]["content"].split(": ")[-1] for m in model.read_aheads] == [
        "When",
        "When are you",
    ]
    assert "Open 9 to 5." in model.read_aheads[-1][-1]["content"], "the passages are read too"
    searched = stage._found
    assert searched is not None and searched[0] == "When are you"
    assert list(await stage.notes_for("When are you")) == list(searched[1])


@virtual_time
async def test_a_speculation_or_an_interruption_stops_reading_ahead() -> None:
    stage, model = await thinking(replies={"Hello": "Hi."})
    await asyncio.sleep(0.01)
    model.read_ahead_s = 5.0
    stage.read_ahead("Hel")
    await asyncio.sleep(0.1)
    reading = stage._reading
    assert reading is not None and not reading.done()
    stage.speculate("Hello")
    await asyncio.sleep(0.1)
    assert reading.cancelled(), "the speculation's reply must not wait behind a reading"
    stage.read_ahead("Hello again")
    await asyncio.sleep(0.1)
    reading = stage._reading
    assert reading is not None
    stage.interrupt(Interruption(InterruptionCause.BARGE_IN, 1, 0.0, "", 0.0, 0.0))
    await asyncio.sleep(0.1)
    assert reading.cancelled()


@virtual_time
async def test_no_reading_ahead_with_actions_or_before_the_persona() -> None:
    loop = asyncio.get_running_loop()
    tasks = StageTasks("s", lambda stage, exc: pytest.fail(f"{stage}: {exc}"))
    tool = ToolSpec("client_event", "open_door", "Opens the door.")
    with_tools = Thinking(
        "s", "You are a test.", (tool,), DialogueSettings(), None, loop.time, tasks
    )
    model = FakeModel({})
    await with_tools.start(model, None)
    await asyncio.sleep(0.01)
    with_tools.read_ahead("Open the")
    await asyncio.sleep(0.1)
    assert model.read_aheads == [], "the act-or-talk decision would replace what was read"


@virtual_time
async def test_with_actions_only_the_decision_is_made_at_the_pause() -> None:
    loop = asyncio.get_running_loop()
    tasks = StageTasks("s", lambda stage, exc: pytest.fail(f"{stage}: {exc}"))
    tool = ToolSpec("client_event", "open_door", "Opens the door.")
    stage = Thinking("s", "You are a test.", (tool,), DialogueSettings(), None, loop.time, tasks)
    model = Deciding({})
    await stage.start(model, None)
    await asyncio.sleep(0.01)
    stage.speculate("Open the door")
    await asyncio.sleep(0.5)
    assert stage.take_speculation("Open the door") is None, "no reply before the turn ends"
    assert model.decided == ["Open the door"] and model.calls == []
    # The conversation's prompt is read back after the decision's own replaced it.
    assert [m[-1]["content"] for m in model.read_aheads] == ["Open the door"]


class Deciding(FakeModel):
    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__(replies)
        self.decided: list[str] = []

    def action_chooser(self) -> Deciding:  # type: ignore[override]
        return self

    async def call_probability(self, user_text: str, tools: Sequence[ToolSpec]) -> float:
        self.decided.append(user_text)
        await asyncio.sleep(0.1)
        return 0.9

    async def generate_call(self, user_text: str, tools: Sequence[ToolSpec]) -> None:
        raise AssertionError("no action before the turn ends")
