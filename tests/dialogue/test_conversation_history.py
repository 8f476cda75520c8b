"""The conversation's history bookkeeping around turns that were dropped and answered again."""

from __future__ import annotations

from typing import Any, cast

import pytest

from opencharacters.dialogue.backend import DialogueModel
from opencharacters.dialogue.conversation import Conversation, ReplyRecord
from opencharacters.engine_settings import DialogueSettings

pytestmark = pytest.mark.unit


def conversation() -> Conversation:
    model = cast(DialogueModel, cast(Any, object()))  # history needs no model
    return Conversation(model, "You are Ada.", DialogueSettings())


def test_only_the_unanswered_last_turn_is_taken_back() -> None:
    talk = conversation()
    talk.record_turn("Hi", ReplyRecord(produced=["Hello."]))
    talk.record_turn("What is your name?", ReplyRecord())  # its answer was dropped
    talk.take_back_unanswered("What is your name?")
    assert talk.history == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
    # Other words, or a turn that was answered, stay where they are.
    talk.take_back_unanswered("Hi")
    talk.record_turn("And you?", ReplyRecord())
    talk.take_back_unanswered("and you")
    assert [entry["content"] for entry in talk.history] == ["Hi", "Hello.", "And you?"]


def test_a_cut_reply_is_restored_whole_or_entered_again() -> None:
    talk = conversation()
    talk.record_turn("Hours?", ReplyRecord(produced=["We open at nine.", "We close at five."]))
    talk.keep_heard("We open at nine. We close")
    talk.restore_reply("We open at nine. We close at five.")
    assert talk.history[-1] == {
        "role": "assistant",
        "content": "We open at nine. We close at five.",
    }
    # Cut before a word was heard, the entry went; said again, it comes back after the question.
    talk.keep_heard("")
    assert talk.history[-1] == {"role": "user", "content": "Hours?"}
    talk.restore_reply("We open at nine. We close at five.")
    assert talk.history[-2:] == [
        {"role": "user", "content": "Hours?"},
        {"role": "assistant", "content": "We open at nine. We close at five."},
    ]


def test_a_restored_reply_keeps_its_action_call() -> None:
    talk = conversation()
    call = '<call>{"name": "show_map", "arguments": {}}</call>'
    talk.record_turn("Map?", ReplyRecord(produced=["Here is the map."], call=call))
    talk.keep_heard("Here")
    talk.restore_reply("Here is the map.")
    assert talk.history[-1] == {"role": "assistant", "content": f"{call} Here is the map."}
