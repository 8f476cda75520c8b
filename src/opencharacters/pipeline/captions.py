"""When each word of the avatar's reply is heard.

A piece of speech is scheduled with its text and its start and end on the session clock; each word
is placed inside that span in proportion to the letters before it (speech rate is close to even
within one sentence). The transcript sent to the caller, the stored transcript and the dialogue
history all use these times, so an interrupted answer keeps exactly the words that were heard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class TimedWord:
    text: str
    """The word with the space that precedes it when it is not the reply's first."""
    at_s: float


@dataclass(slots=True)
class SpokenReply:
    """The avatar's words of one turn, in the order and at the times they are heard."""

    words: list[TimedWord] = field(default_factory=list)
    start_s: float | None = None
    end_s: float = 0.0

    def add(self, text: str, start_s: float, end_s: float) -> list[TimedWord]:
        matches = list(_WORD.finditer(text))
        if not matches:
            return []
        letters = sum(len(m.group()) for m in matches)
        # Speech usually starts a few tens of ms into the audio and ends before its tail.
        span = max(0.0, end_s - start_s)
        begin = start_s + min(0.05, span * 0.1)
        usable = max(0.0, span * 0.9 - (begin - start_s))
        added: list[TimedWord] = []
        before = 0
        for match in matches:
            at = begin + usable * before / letters
            prefix = " " if (self.words or added) else ""
            added.append(TimedWord(prefix + match.group(), at))
            before += len(match.group())
        self.words.extend(added)
        if self.start_s is None:
            self.start_s = start_s
        self.end_s = max(self.end_s, end_s)
        return added

    def heard_by(self, at_s: float) -> str:
        return "".join(word.text for word in self.words if word.at_s <= at_s).strip()

    @property
    def text(self) -> str:
        return "".join(word.text for word in self.words).strip()
