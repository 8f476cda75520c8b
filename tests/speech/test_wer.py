"""Word error rate as tests and benches score it: Whisper's written forms count as said."""

from __future__ import annotations

import pytest

from opencharacters.speech.wer import normalize_words, wer

pytestmark = pytest.mark.unit


def test_a_digit_range_reads_as_said() -> None:
    assert normalize_words("Open 9-5, well-known.") == [
        "open", "nine", "to", "five", "well", "known",
    ]  # fmt: skip
    assert wer("open from nine to five", "open from 9-5") == 0.0


def test_a_misheard_word_still_counts() -> None:
    assert wer("open from nine to five on weekdays", "open for 9-5 on weekdays") == 1 / 7
