"""Whether what the caller said holds words that ask for something.

A caller who goes "um", "ah" or "oh" over the avatar, or clears their throat and is heard as
"hm", has not taken the turn: the avatar goes on, as a person would. Only sounds without a word
of their own count (not "yes", "okay" or "no": those can answer or stop)."""

from __future__ import annotations

import re

_SOUNDS = frozenset(
    [
        "ah",
        "ahh",
        "aha",
        "eh",
        "er",
        "erm",
        "hm",
        "hmm",
        "hmmm",
        "huh",
        "m",
        "mhm",
        "mm",
        "mmm",
        "mm-hmm",
        "oh",
        "ohh",
        "uh",
        "uhh",
        "uh-huh",
        "um",
        "umm",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def holds_words(text: str) -> bool:
    """False for nothing at all, or only sounds like "um", "ah", "oh", "hmm"."""
    return any(word not in _SOUNDS for word in _WORD.findall(text.lower()))
