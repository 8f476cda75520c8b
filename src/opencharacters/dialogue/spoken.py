"""Post-filter for text that will be spoken: small models still slip into Markdown and emoji."""

from __future__ import annotations

import re

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\U00002190-\U000021ff"
    "\U00002b00-\U00002bff\ufe0f\u200d]+"
)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_LINE_MARKERS = re.compile(r"(?m)^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+|\d{1,2}[.)]\s+)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`{1,3}|~~)")
_SPACES = re.compile(r"[ \t]*\n[ \t\n]*|[ \t]{2,}")


def clean_spoken(text: str) -> str:
    """Drop Markdown syntax, links' targets, URLs and emoji; keep the words."""
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _LINE_MARKERS.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _EMOJI.sub("", text)
    return _SPACES.sub(" ", text).strip()


def has_markup(text: str) -> bool:
    """For the persona bench: did the raw reply contain anything clean_spoken would remove?"""
    return clean_spoken(text) != " ".join(text.split())
