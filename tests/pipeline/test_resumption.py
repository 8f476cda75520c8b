from __future__ import annotations

import pytest

from opencharacters.pipeline.resumption import CutAnswer, cut_answer

pytestmark = pytest.mark.unit

PLAYED = ["The clinic is open,", "from nine to five.", "We close on Sundays."]
WRITTEN = "The clinic is open, from nine to five. We close on Sundays. Call us any time."


def test_it_goes_on_from_the_start_of_the_sentence_cut_into() -> None:
    assert cut_answer(PLAYED, "The clinic is open, from nine", WRITTEN) == CutAnswer(
        "The clinic is open,",
        "from nine to five. We close on Sundays. Call us any time.",
    )


def test_a_cut_between_sentences_goes_on_with_the_next_one() -> None:
    heard = "The clinic is open, from nine to five."
    assert cut_answer(PLAYED, heard, WRITTEN) == CutAnswer(
        heard, "We close on Sundays. Call us any time."
    )


def test_a_cut_before_any_word_says_it_all_again() -> None:
    assert cut_answer(PLAYED, "", WRITTEN) == CutAnswer("", WRITTEN)


def test_words_written_but_not_yet_played_are_said() -> None:
    assert cut_answer(PLAYED[:1], "The clinic", WRITTEN) == CutAnswer("", WRITTEN)


def test_nothing_left_when_all_was_heard() -> None:
    assert cut_answer(PLAYED, " ".join(PLAYED), " ".join(PLAYED)) is None


def test_words_said_but_not_written_keep_to_what_was_played() -> None:
    """An action's spoken result is played but not part of the model's text."""
    played = ["Sure, here it is.", "Anything else?"]
    assert cut_answer(played, "Sure, here", "Anything else?") == CutAnswer(
        "", "Sure, here it is. Anything else?"
    )


def test_an_answer_cut_while_being_written_goes_on_to_its_last_full_sentence() -> None:
    written = "The clinic is open, from nine to five. We close"
    played = ["The clinic is open,"]
    assert cut_answer(played, "The", written, finished=False) == CutAnswer(
        "", "The clinic is open, from nine to five."
    )
    assert cut_answer(played, "The", "The clinic is open,", finished=False) is None
    assert cut_answer(played, "The", "The clinic is open,") == CutAnswer("", "The clinic is open,")
