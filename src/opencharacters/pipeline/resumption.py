"""What of a cut answer to say again when what cut it held no words.

A cough, a laugh or a door slam can be loud and long enough to stop the avatar (barge-in must
react within a quarter of a second, before any words are known). When the caller's turn then
turns out to hold no words, the answer goes on: from the start of the sentence it was cut in, as
a speaker repeats the sentence they were in when someone coughed, to the end of what was written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*(?=\s|$)")


@dataclass(frozen=True, slots=True)
class CutAnswer:
    kept: str
    """The sentences heard whole before the cut one."""
    again: str
    """From the start of the cut sentence to the end of what was written."""


def cut_answer(
    played: Sequence[str], heard: str, written: str, *, finished: bool = True
) -> CutAnswer | None:
    """`played`: the sentences scheduled, in order (their words are the ones `heard` counts);
    `heard`: the words heard before the cut; `written`: all the answer's words, including those
    written but not yet scheduled; `finished`: all of it was scheduled (else the model may have
    been stopped mid-sentence, and words after the last sentence end are not said). None when
    nothing is left to say."""
    heard_count = len(heard.split())
    kept: list[str] = []
    counted = 0
    for sentence in played:
        words = len(sentence.split())
        if counted + words > heard_count:
            break
        kept.append(sentence)
        counted += words
    rest = list(played[len(kept) :])
    played_words = [word for sentence in played for word in sentence.split()]
    written_words = written.split()
    # The words not scheduled yet follow the played ones in what was written; a tool's words,
    # said but not written, break that alignment, and then only the played sentences are known.
    if written_words[: len(played_words)] == played_words:
        tail = written_words[len(played_words) :]
        if tail:
            rest.append(" ".join(tail))
    again = " ".join(rest).strip()
    if not finished:
        ends = [match.end() for match in _SENTENCE_END.finditer(again)]
        again = again[: ends[-1]] if ends else ""
    if not again:
        return None
    return CutAnswer(" ".join(kept), again)
