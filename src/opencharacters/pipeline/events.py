"""The call's own events to the caller's data channel (`opencharacters.*`, runway-api.md §5
lets clients ignore them): state changes, interruptions, turn timings, the clock's origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opencharacters.pipeline import channel as messages
from opencharacters.pipeline.frames import Interruption, InterruptionCause


class CallerEvents:
    name = "events"

    def __init__(self, send: Callable[[dict[str, Any]], None], monotonic_origin: float) -> None:
        self._send = send
        self._origin = monotonic_origin
        self.state = ""

    def set_state(self, state: str) -> None:
        """thinking | speaking | listening: sent on change only."""
        if state != self.state:
            self.state = state
            self._send({"type": messages.EVENT_STATE, "state": state})

    def first_media(self, field: str, at_s: float) -> None:
        """Lets a client on the same host turn media timestamps into one-way delays."""
        self._send({"type": messages.EVENT_CLOCK, "monotonicOrigin": self._origin, field: at_s})

    def turn_done(self, timings: dict[str, Any]) -> None:
        self._send({"type": messages.EVENT_TURN, **timings})

    def interrupt(self, frame: Interruption) -> None:
        if frame.cause is InterruptionCause.BARGE_IN:
            assert frame.speech_start_s is not None and frame.detected_s is not None
            self._send(
                {
                    "type": messages.EVENT_INTERRUPTED,
                    "turn": frame.turn,
                    "heard": frame.heard,
                    "speechStartS": round(frame.speech_start_s, 4),
                    "detectedS": round(frame.detected_s, 4),
                    "silencedS": round(frame.cut_s, 4),
                }
            )
        if frame.cause is not InterruptionCause.TIME_UP:
            self.set_state("listening")
