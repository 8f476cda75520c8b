"""Chunking for TTS, the spoken-style post-filter, and prompt assembly."""

from __future__ import annotations

import pytest

from opencharacters.dialogue.chunker import SpeakableChunker, chunk_text, speakable_chunks
from opencharacters.dialogue.prompt import SPOKEN_RULES, build_messages, system_prompt
from opencharacters.dialogue.spoken import clean_spoken, has_markup

pytestmark = pytest.mark.unit


def test_first_chunk_is_cut_at_a_clause_then_sentences() -> None:
    chunker = SpeakableChunker()
    assert chunker.push("Of course, I can") == ["Of course,"]
    assert chunker.push(" check that for you, and") == []
    assert chunker.push(" then call you back. Bye!") == [
        "I can check that for you, and then call you back."
    ]
    assert chunker.flush() == ["Bye!"]


def test_a_single_word_is_not_a_first_chunk() -> None:
    assert SpeakableChunker().push("Yes, the clinic") == []


def test_the_first_clause_is_cut_as_soon_as_its_mark_is_written() -> None:
    # Without waiting for the next token's space: speech starts one token earlier.
    chunker = SpeakableChunker(first_clause_min_words=1)
    assert chunker.push("Yes") == []
    assert chunker.push(",") == ["Yes,"]
    assert chunker.push(" the clinic is open.") == []
    assert chunker.flush() == ["the clinic is open."]
    assert SpeakableChunker(first_clause_min_words=1).push("Sure!") == ["Sure!"]


@pytest.mark.parametrize("written", ["It costs 3,", "About 3.", "Dr.", "Ask J."])
def test_numbers_initials_and_abbreviations_wait_for_more(written: str) -> None:
    assert SpeakableChunker(first_clause_min_words=1).push(written) == []


def test_later_pieces_still_wait_for_a_sentence_end() -> None:
    chunker = SpeakableChunker(first_clause_min_words=1)
    assert chunker.push("Yes, we open at nine,") == ["Yes,"]
    assert chunker.push(" and close.") == []


def _phrased() -> SpeakableChunker:
    return SpeakableChunker(
        first_clause_min_words=1, first_phrase_min_words=4, first_piece_max_words=8
    )


def test_a_long_first_sentence_is_cut_before_its_next_phrase() -> None:
    chunker = _phrased()
    assert chunker.push("The clinic is open from") == []  # "from" may still grow
    assert chunker.push(" nine") == ["The clinic is open"]
    assert chunker.push(" to five on weekdays. We") == ["from nine to five on weekdays."]
    assert chunker.flush() == ["We"]


def test_the_phrase_cut_needs_enough_words_and_only_applies_to_the_first_piece() -> None:
    chunker = _phrased()
    assert chunker.push("I am so happy to help ") == ["I am so happy"]  # "so" is word 3
    assert chunker.push("with that. It is open from nine to five on weekdays ") == [
        "to help with that."
    ]
    assert chunker.flush() == ["It is open from nine to five on weekdays"]


def test_a_first_clause_mark_still_wins_when_it_comes_first() -> None:
    assert _phrased().push("Yes, the clinic is open from nine") == ["Yes,"]


def test_a_first_piece_without_any_phrase_opener_is_cut_at_its_word_limit() -> None:
    chunker = _phrased()
    assert chunker.push("Our friendly dentist Maria Lopez sees every patient") == []
    assert chunker.push(" personally") == ["Our friendly dentist Maria Lopez sees every patient"]
    assert chunker.flush() == ["personally"]


def test_no_phrase_cuts_unless_asked() -> None:
    assert SpeakableChunker().push("The clinic is open from nine to five on weekdays ") == []
    off = SpeakableChunker(first_phrase_min_words=0, first_piece_max_words=0)
    assert off.push("The clinic is open from nine to five on weekdays ") == []


def test_the_word_limit_alone_still_cuts() -> None:
    chunker = SpeakableChunker(first_phrase_min_words=0, first_piece_max_words=3)
    assert chunker.push("The clinic is open") == ["The clinic is"]


def test_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = "Dr. Smith sees you at 3.5 past. Mr. Jones too."
    assert list(chunk_text([text[i : i + 3] for i in range(0, len(text), 3)])) == [
        "Dr. Smith sees you at 3.5 past.",
        "Mr. Jones too.",
    ]


def test_a_run_on_is_cut_at_a_space() -> None:
    chunks = list(chunk_text(["word " * 100], max_chars=50))
    assert all(len(chunk) <= 50 for chunk in chunks)
    assert " ".join(chunks).split() == ["word"] * 100


async def test_async_chunks() -> None:
    async def deltas():  # type: ignore[no-untyped-def]
        for delta in ["Hi! ", "**Welcome** to ", "the clinic."]:
            yield delta

    assert [c async for c in speakable_chunks(deltas())] == ["Hi!", "Welcome to the clinic."]


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("**Sure!** Here's how:", "Sure! Here's how:"),
        ("- First item\n- Second item", "First item Second item"),
        ("## Hours\nWe open at 9.", "Hours We open at 9."),
        ("Great 😊👍 see you", "Great see you"),
        ("See [our site](https://x.y) or https://x.y/z now", "See our site or now"),
        ("Use `code` here", "Use code here"),
        ("1. Call us\n2. Book", "Call us Book"),
    ],
)
def test_clean_spoken(raw: str, spoken: str) -> None:
    assert clean_spoken(raw) == spoken
    assert has_markup(raw)


def test_plain_text_is_left_alone() -> None:
    text = "We're open from nine to five, Monday to Friday."
    assert clean_spoken(text) == text
    assert not has_markup(text)


def test_knowledge_goes_after_the_history_in_the_last_user_turn() -> None:
    system = system_prompt("You are Mia, a receptionist.")
    assert system.startswith("You are Mia, a receptionist.")
    assert system.endswith(SPOKEN_RULES)
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    messages = build_messages(system, history, "When do you open?", ["We open at nine."])  # type: ignore[arg-type]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[:3] == [{"role": "system", "content": system}, *history]
    assert "We open at nine." in messages[-1]["content"]
    assert messages[-1]["content"].endswith("When do you open?")
