"""What passes between the stages of a call.

The caller's side comes from the listener (speech/listener.py): `SpeechStarted`,
`PartialTranscript`, `UserTurn`. The avatar's side is scheduled audio and the words it carries,
each placed on the session clock before it is heard. `Interruption` is the one system frame:
every stage receives it (Stage.interrupt), so a new stage gets barge-in by being listed."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from opencharacters.speech.listener import ListenerEvent, PartialTranscript, SpeechStarted, UserTurn

__all__ = [
    "Interruption",
    "InterruptionCause",
    "ListenerEvent",
    "PartialTranscript",
    "SpeechStarted",
    "UserTurn",
    "WordHeard",
]


class InterruptionCause(enum.Enum):
    BARGE_IN = "barge_in"
    """The caller spoke over the avatar: the rest of the answer is dropped."""
    RETRACTED = "retracted"
    """The caller went on speaking while the avatar was still thinking: nothing was heard,
    the answer is dropped silently and the longer turn is answered."""
    TIME_UP = "time_up"
    """maxDuration is near: the answer gives way to the goodbye."""


@dataclass(frozen=True, slots=True)
class Interruption:
    cause: InterruptionCause
    turn: int
    """The avatar's turn being cut."""
    cut_s: float
    """Session-clock instant the avatar's voice stops (the speaker's playout position)."""
    heard: str
    """The words of that turn the caller heard by `cut_s`."""
    speech_start_s: float | None = None
    """Barge-in: when the caller's speech began."""
    detected_s: float | None = None
    """Barge-in: when the turn detector noticed it."""


@dataclass(frozen=True, slots=True)
class WordHeard:
    """One word of the avatar's turn at the moment the caller hears it."""

    turn: int
    text: str
    """With the space before it when it is not the turn's first word."""
    at_s: float
