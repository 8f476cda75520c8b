"""Cuts a stream of LLM text into pieces TTS can speak as soon as they are complete.

The first piece is cut at the first clause boundary (comma, semicolon, colon, dash) once it has a
few words, so speech starts early; later pieces wait for sentence ends, which sound more natural.
A first sentence that runs on without a mark is cut before the word that opens its next phrase
("The clinic is open | from nine to five."), where a speaker could breathe: every word written
before speech starts is ~70 ms of the caller's wait, and its synthesis grows with its length.
Abbreviations and decimals ("Dr. Smith", "3.5") do not end a sentence."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator

from opencharacters.dialogue.spoken import clean_spoken

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:]\s|\s[-\u2013\u2014]\s")  # hyphen, en and em dash
_ENDS_SPEAKABLE = re.compile(r"[A-Za-z]{2,}[,;:.!?]$")
"""Text whose last word ends a clause or sentence right at the end of what was written so far.
The model writes the space after it with the next token (one token later: ~70 ms here); a
letter before the mark rules out numbers ("3,000", "3.5") and one letter out initials ("J.")."""
_WORD = re.compile(r"\S+(?=\s)")
"""A word the model has finished (the next token's space came after it)."""
_PHRASE_OPENERS = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "since",
        "while",
        "although",
        "though",
        "unless",
        "until",
        "if",
        "when",
        "where",
        "which",
        "who",
        "whose",
        "to",
        "from",
        "for",
        "with",
        "at",
        "on",
        "in",
        "by",
        "about",
        "after",
        "before",
        "during",
        "than",
    ]
)
"""Words that open a phrase: the first piece may end right before one of them."""
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "no",
        "approx",
        "inc",
        "ltd",
        "co",
    ]
)


def _is_abbreviation(text: str, end: int) -> bool:
    match = re.search(r"([A-Za-z.]+)\.$", text[: end + 1])
    return bool(match and match.group(1).lower().rstrip(".") in _ABBREVIATIONS)


class SpeakableChunker:
    def __init__(
        self,
        first_clause_min_words: int = 2,
        max_chars: int = 220,
        first_phrase_min_words: int = 0,
        first_piece_max_words: int = 0,
    ) -> None:
        """`first_phrase_min_words`: a first sentence without a clause mark is cut before a
        phrase opener once it has this many words; `first_piece_max_words`: and after this
        many words in any case (0 turns each off, as in DialogueSettings)."""
        self._buffer = ""
        self._emitted = 0
        self._first_clause_min_words = first_clause_min_words
        self._max_chars = max_chars
        self._first_phrase_min_words = first_phrase_min_words
        self._first_piece_max_words = first_piece_max_words

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        chunks: list[str] = []
        while (cut := self._find_cut()) is not None:
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:].lstrip()
            cleaned = clean_spoken(piece)
            if cleaned:
                chunks.append(cleaned)
                self._emitted += 1
        return chunks

    def flush(self) -> list[str]:
        cleaned = clean_spoken(self._buffer)
        self._buffer = ""
        return [cleaned] if cleaned else []

    def _find_cut(self) -> int | None:
        text = self._buffer
        for match in _SENTENCE_END.finditer(text):
            if text[match.start()] == "." and _is_abbreviation(text, match.start()):
                continue
            return match.end()
        if self._emitted == 0:
            for match in _CLAUSE_END.finditer(text):
                if len(text[: match.start()].split()) >= self._first_clause_min_words:
                    return match.end()
            if self._first_piece_ends_here(text):
                return len(text)
            if (cut := self._first_phrase_cut(text)) is not None:
                return cut
        if len(text) > self._max_chars:
            # A run-on without punctuation: cut at the last space so TTS is not starved.
            space = text.rfind(" ", 0, self._max_chars)
            return space + 1 if space > 0 else self._max_chars
        return None

    def _first_phrase_cut(self, text: str) -> int | None:
        """Where a long first sentence without a mark so far can be cut: before a phrase
        opener, or after `first_piece_max_words` finished words."""
        least = self._first_phrase_min_words
        most = self._first_piece_max_words
        if not least and not most:
            return None
        for index, word in enumerate(_WORD.finditer(text)):
            bare = word.group().strip("\"'()").lower()
            if least and index >= least and bare in _PHRASE_OPENERS:
                return word.start()
            if most and index + 1 >= most:
                return word.end()
        return None

    def _first_piece_ends_here(self, text: str) -> bool:
        """The first piece is spoken as soon as its last mark is written, without waiting for
        the next token's space (later pieces have the previous one's audio to hide behind)."""
        stripped = text.rstrip()
        if stripped != text or not _ENDS_SPEAKABLE.search(stripped):
            return False  # trailing space: the regular cuts above already saw it
        if stripped.endswith(".") and _is_abbreviation(stripped, len(stripped) - 1):
            return False
        return len(stripped.split()) >= self._first_clause_min_words


def chunk_text(deltas: Iterable[str], **options: int) -> Iterator[str]:
    chunker = SpeakableChunker(**options)
    for delta in deltas:
        yield from chunker.push(delta)
    yield from chunker.flush()


async def speakable_chunks(deltas: AsyncIterator[str], **options: int) -> AsyncIterator[str]:
    chunker = SpeakableChunker(**options)
    async for delta in deltas:
        for chunk in chunker.push(delta):
            yield chunk
    for chunk in chunker.flush():
        yield chunk
