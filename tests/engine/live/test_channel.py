from __future__ import annotations

import json
from typing import Any

import pytest

from opencharacters.pipeline.channel import (
    _MAX_PENDING,
    MAX_INBOUND_BYTES,
    CallChannel,
    transcription,
)

pytestmark = pytest.mark.unit


class FakeChannel:
    def __init__(self) -> None:
        self.readyState = "open"
        self.sent: list[str] = []
        self.handlers: dict[str, Any] = {}

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def send(self, data: str) -> None:
        self.sent.append(data)


def test_end_call_ends_and_garbage_is_ignored() -> None:
    ended: list[bool] = []
    call = CallChannel("s", lambda: ended.append(True))
    fake = FakeChannel()
    call.attach(fake)
    receive = fake.handlers["message"]
    for garbage in [
        "not json",
        "[1,2]",
        '{"type":"HELLO"}',
        b"\xff\xfe",
        "x" * (MAX_INBOUND_BYTES + 1),
    ]:
        receive(garbage)
    assert not ended
    receive(json.dumps({"type": "END_CALL"}))
    assert ended == [True]


def test_only_the_first_channel_is_used_and_sends_wait_for_open() -> None:
    call = CallChannel("s", lambda: None)
    call.send(transcription("assistant", 1, "early"))  # no channel yet: kept
    first, second = FakeChannel(), FakeChannel()
    first.readyState = "connecting"
    call.attach(first)
    call.attach(second)
    call.send({"type": "x"})
    assert first.sent == [] and second.sent == []
    first.readyState = "open"
    first.handlers["open"]()
    assert [json.loads(m)["type"] for m in first.sent] == ["transcription", "x"]
    call.send(transcription("assistant", 1, "Hi"))
    assert second.sent == []
    assert json.loads(first.sent[-1]) == {
        "type": "transcription",
        "role": "assistant",
        "turn": 1,
        "text": "Hi",
    }


def test_what_is_said_before_the_channel_opens_is_kept_up_to_a_limit() -> None:
    call = CallChannel("s", lambda: None)
    for turn in range(_MAX_PENDING + 5):
        call.send(transcription("assistant", turn, "word"))
    channel = FakeChannel()
    call.attach(channel)  # already open: the backlog goes out at once, oldest first
    turns = [json.loads(m)["turn"] for m in channel.sent]
    assert turns == list(range(_MAX_PENDING))
