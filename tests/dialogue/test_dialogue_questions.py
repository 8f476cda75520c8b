"""Question detection on the caller's words (dialogue/questions.py)."""

from __future__ import annotations

import pytest

from opencharacters.dialogue.questions import asks_question, question_part

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "words",
    [
        "What time does the museum open on Sundays, and how much is a ticket?",
        "Where is my order?",
        "Is the store open on Sunday?",
        "Hello! What can you help me with?",
        "So what time do you open",  # Whisper left the question mark out
        "Could you tell me when you open?",
        "Show me the hat, and how much is it?",  # the question is in a later clause
        "Tell me about the meridian exhibit.",
        "I\u2019d like to know the price.",
    ],
)
def test_questions(words: str) -> None:
    assert asks_question(words)


@pytest.mark.parametrize(
    "words",
    [
        "Please show me the rain jacket.",
        "Can you show me the rain jacket?",  # a request, politely phrased
        "Could you please open order 42?",
        "Show me the running shoes",
        "I would like to see the wool hat",
        "Thanks!",
        "Do it.",
        "",
    ],
)
def test_requests_and_remarks(words: str) -> None:
    assert not asks_question(words)


@pytest.mark.parametrize(
    ("words", "asked"),
    [
        ("Show me the dinosaurs, and how much is a ticket?", "how much is a ticket?"),
        ("Please show me the hat. How much is it?", "how much is it?"),
        # Every clause asks, or the asking is phrased as a request: the words as they are.
        ("What time do you open, and how much is a ticket?", None),
        ("Can you show me the hat and tell me the price?", None),
        ("Where is my order?", None),
    ],
)
def test_the_part_that_asks(words: str, asked: str | None) -> None:
    assert question_part(words) == (asked or words)
