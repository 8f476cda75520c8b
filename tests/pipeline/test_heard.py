"""Heard words: each word goes to the caller and the transcript at the instant it is heard,
and an interruption drops every word not yet heard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from opencharacters.pipeline.captions import SpokenReply
from opencharacters.pipeline.frames import Interruption, InterruptionCause, WordHeard
from opencharacters.pipeline.heard import HeardWords
from opencharacters.pipeline.stage import StageTasks
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


def stage() -> tuple[HeardWords, list[dict[str, Any]], list[tuple[WordHeard, float]]]:
    loop = asyncio.get_running_loop()
    sent: list[dict[str, Any]] = []
    words: list[tuple[WordHeard, float]] = []
    tasks = StageTasks("s", lambda stage, exc: pytest.fail(f"{stage}: {exc}"))
    heard = HeardWords(loop.time, sent.append, [lambda w, s: words.append((w, s))], tasks)
    heard.start()
    return heard, sent, words


@virtual_time
async def test_each_word_leaves_when_it_is_heard() -> None:
    heard, sent, words = stage()
    reply = SpokenReply()
    heard.add(3, reply.add("Hello there friend", 1.0, 2.0), 1.0)
    await asyncio.sleep(1.2)
    assert [m["text"] for m in sent] == ["Hello"]
    await asyncio.sleep(1.0)
    assert [m["text"] for m in sent] == ["Hello", " there", " friend"]
    assert all(
        m == {"type": "transcription", "role": "assistant", "turn": 3, "text": m["text"]}
        for m in sent
    )
    assert [(w.turn, w.text, start) for w, start in words] == [
        (3, "Hello", 1.0),
        (3, " there", 1.0),
        (3, " friend", 1.0),
    ]
    assert all(abs(w.at_s - asyncio.get_running_loop().time()) < 2 for w, _ in words)


@virtual_time
async def test_an_interruption_drops_the_words_not_yet_heard() -> None:
    heard, sent, _ = stage()
    reply = SpokenReply()
    heard.add(1, reply.add("one two three four five six", 0.0, 3.0), 0.0)
    await asyncio.sleep(1.0)
    cut = asyncio.get_running_loop().time()
    heard.interrupt(Interruption(InterruptionCause.BARGE_IN, 1, cut, reply.heard_by(cut), 0.8, cut))
    await asyncio.sleep(5)
    assert "".join(m["text"] for m in sent).strip() == reply.heard_by(cut)
    heard.add(2, SpokenReply().add("again", 6.0, 6.5), 6.0)  # the next turn flows
    await asyncio.sleep(2)
    assert sent[-1]["text"] == "again" and sent[-1]["turn"] == 2
