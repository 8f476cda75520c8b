from __future__ import annotations

import pytest

from opencharacters.pipeline.fillers import holds_words

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text", ["", " ", "Um.", "M.", "Ah.", "Oh, oh.", "Hmm?", "Mm-hmm.", "Uh... um"]
)
def test_sounds_alone_hold_no_words(text: str) -> None:
    assert not holds_words(text)


@pytest.mark.parametrize("text", ["No.", "Yes.", "Okay.", "Um, stop.", "Oh, wait!", "Hi", "2"])
def test_any_word_counts(text: str) -> None:
    assert holds_words(text)
