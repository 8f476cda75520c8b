"""Does the caller ask for information? Read from the transcribed words alone.

An action must never replace an answer: "what time does the museum open, and how much is a
ticket?" asks two questions, and an action fired on those words (showing an exhibit) does not
answer them. A polite request phrased as a question ("can you show me the rain jacket?") asks for
the action, not for information, and is not a question here. Whisper punctuates its
transcripts, so a question mark is the strongest sign; the words decide when it is missing or
when the question sits in a later clause ("show me the hat and tell me what it costs")."""

from __future__ import annotations

import re

_WH = r"what|what's|whats|when|where|where's|who|who's|whom|whose|which|why|how"
_AUXILIARY = (
    r"is|are|was|were|do|does|did|have|has|had|can|could|will|would|should|shall|may|might|"
    r"isn't|aren't|doesn't|don't|didn't"
)
_ASKING = re.compile(
    r"\b(tell me|let me know|i'd like to know|i would like to know|i want to know|"
    r"i wonder|i was wondering|do you know|explain|remind me)\b"
)
_REQUEST = re.compile(
    r"^(please\s+)?(can|could|would|will)\s+(you|u)\s+(please\s+)?"
    r"(?!tell\b|say\b|explain\b|let me know\b)\w+"
)
_CLAUSE = re.compile(r"[,;.!?]|\band\b|\bbut\b|\balso\b")
_FILLER = re.compile(
    r"^(?:(?:so|okay|ok|well|hi|hello|hey|um|uh|oh|then|now|great|thanks|please)\s+)+"
)
_WH_START = re.compile(rf"^(?:{_WH})\b")
_INVERTED = re.compile(rf"^(?:{_AUXILIARY})\s+(?:i|you|we|they|it|there|the|this|that|my|your)\b")


def clauses(text: str) -> list[str]:
    """The words split at punctuation and conjunctions, leading fillers ("so", "okay") dropped."""
    parts = (_FILLER.sub("", part.strip()) for part in _CLAUSE.split(text.lower()))
    return [part for part in parts if part]


def _asks(part: str, marked: bool) -> bool:
    if _REQUEST.search(part):
        return False  # "could you show me the rain jacket?" asks for the action
    return bool(_WH_START.search(part) or (marked and _INVERTED.search(part)))


def question_part(text: str) -> str:
    """The words that ask, without the request beside them: "Show me the dinosaurs, and how
    much is a ticket?" → "how much is a ticket?". What the model answers after an action: given
    the whole sentence, the 0.5B model read it back instead of answering (bench: 1 in 1)."""
    lowered = " ".join(text.lower().replace("\u2019", "'").split())
    if _ASKING.search(lowered):
        return text
    marked = "?" in lowered
    pieces = [_FILLER.sub("", p.strip()) for p in _CLAUSE.split(lowered)]
    asking = [p for p in pieces if p and _asks(p, marked)]
    if not asking or len(asking) == len([p for p in pieces if p]):
        return text
    return f"{', and '.join(asking)}?"


def asks_question(text: str) -> bool:
    """True when the words ask for information the avatar should say (not only an action)."""
    lowered = " ".join(text.lower().replace("\u2019", "'").split())
    if not lowered:
        return False
    if _ASKING.search(lowered):
        return True
    marked = "?" in lowered
    return any(_asks(part, marked) for part in clauses(lowered))
