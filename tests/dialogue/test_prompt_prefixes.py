"""The prompt pieces both llama.cpp runtimes cache: the persona prefix and the prompt read ahead."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.prompt import persona_prefix, prompt_through_words

pytestmark = pytest.mark.unit


def chatml(messages: Sequence[ChatMessage]) -> str:
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def user_first(messages: Sequence[ChatMessage]) -> str:
    if len(messages) > 1 and messages[1]["role"] != "user":
        raise ValueError("conversation roles must start with user")
    return chatml(messages)


def test_the_persona_prefix_stops_before_the_first_messages_role() -> None:
    assert (
        persona_prefix(chatml, "Be Ada.") == "<|im_start|>system\nBe Ada.<|im_end|>\n<|im_start|>"
    )
    # A template that refuses an assistant first still gives the prefix both openings share.
    assert persona_prefix(user_first, "Be Ada.") == (
        "<|im_start|>system\nBe Ada.<|im_end|>\n<|im_start|>user\n"
    )


def test_reading_ahead_stops_at_the_end_of_the_callers_words() -> None:
    messages: list[ChatMessage] = [
        {"role": "system", "content": "Be Ada."},
        {"role": "user", "content": "When do you open"},
    ]
    prompt = prompt_through_words(chatml, messages)
    assert prompt is not None and prompt.endswith("<|im_start|>user\nWhen do you open")
    assert prompt_through_words(chatml, []) is None
    assert prompt_through_words(chatml, [*messages[:1], {"role": "user", "content": ""}]) is None
