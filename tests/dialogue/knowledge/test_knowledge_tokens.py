"""The token rule behind the 50,000-token limit."""

from __future__ import annotations

import pytest

from opencharacters.domain.knowledge import MAX_AVATAR_KNOWLEDGE_TOKENS, count_tokens

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   \n\t ", 0),
        ("word", 1),
        ("return", 1),  # 6 ASCII letters
        ("returns", 2),
        ("hypoallergenic", 3),
        ("2026", 4),  # digits one by one
        ("$24.95", 1 + 2 + 1 + 2),
        ("---", 1),
        ("-----", 2),  # a run of one symbol: one per started 4
        ("Größe", 2),  # non-ASCII letters: one per started 4
        ("退货政策", 3),  # CJK: 0.75 each, rounded up per run
        ("snake_case", 1 + 1 + 1),
        ("Hello, world!", 1 + 1 + 1 + 1),
    ],
)
def test_rule(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_repeated_words_scale_linearly() -> None:
    assert count_tokens("word " * 40_000) == 40_000
    assert MAX_AVATAR_KNOWLEDGE_TOKENS == 50_000


def test_stop_above_ends_early_with_a_count_over_the_cap() -> None:
    text = "word " * 1000
    assert count_tokens(text, stop_above=10) == 11
    assert count_tokens(text, stop_above=5000) == 1000
