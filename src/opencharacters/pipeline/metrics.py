"""Where each turn's latency went and how barge-ins went, on the session clock (for the data
channel's `opencharacters.turn` events, the call's stats and bench/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opencharacters.animation.stream import VideoFrame
from opencharacters.pipeline.frames import Interruption, InterruptionCause

MOUTH_MOVING = 0.05
"""Jaw opening from which a frame counts as showing speech."""


@dataclass(slots=True)
class TurnTimings:
    turn: int
    speech_end_s: float
    turn_end_s: float
    asr_wait_s: float
    thinking_s: float | None = None
    """When the answer started being thought (a speculation: at the caller's pause)."""
    first_token_s: float | None = None
    """When the model's first text arrived (prompt read, first token written)."""
    first_text_s: float | None = None
    first_audio_scheduled_s: float | None = None
    first_audio_heard_s: float | None = None
    first_mouth_frame_s: float | None = None
    speculated: bool = False
    notes: list[dict[str, Any]] = field(default_factory=list)
    """Where the knowledge passages given to the model came from."""
    action_score: float | None = None
    """Sessions with actions: call probability + closeness to the nearest action."""
    speech_gap_s: float = 0.0
    """Silence inside the answer's sentences: a piece of a sentence synthesized after the piece
    before it had finished playing (0 when synthesis kept ahead of the voice)."""

    def as_json(self) -> dict[str, Any]:
        def rel(at: float | None) -> float | None:
            return None if at is None else round(at - self.speech_end_s, 4)

        return {
            "turn": self.turn,
            "speechEndS": round(self.speech_end_s, 4),
            "endOfTurnWaitS": rel(self.turn_end_s),
            "asrWaitS": round(self.asr_wait_s, 4),
            "thinkingS": rel(self.thinking_s),
            "firstTokenS": rel(self.first_token_s),
            "firstClauseS": rel(self.first_text_s),
            "firstAudioScheduledS": rel(self.first_audio_scheduled_s),
            "firstAudioS": rel(self.first_audio_heard_s),
            "firstMouthFrameS": rel(self.first_mouth_frame_s),
            "speculated": self.speculated,
            "notes": self.notes,
            "actionScore": None if self.action_score is None else round(self.action_score, 3),
            "speechGapS": round(self.speech_gap_s, 4),
        }


class CallMetrics:
    """A stage that only watches: turn timings, first mouth frames, barge-ins."""

    name = "metrics"

    def __init__(self) -> None:
        self.turns: list[TurnTimings] = []
        self.barge_ins: list[dict[str, float]] = []
        self._awaiting_mouth: TurnTimings | None = None

    def turn_started(self, timings: TurnTimings) -> None:
        self.turns.append(timings)

    def audio_scheduled(self, timings: TurnTimings | None, now_s: float, start_s: float) -> None:
        if timings is not None and timings.first_audio_scheduled_s is None:
            timings.first_audio_scheduled_s = now_s
            timings.first_audio_heard_s = start_s
            self._awaiting_mouth = timings

    def frame_shown(self, frame: VideoFrame) -> None:
        awaiting = self._awaiting_mouth
        if awaiting is not None and frame.params.jaw > MOUTH_MOVING:
            awaiting.first_mouth_frame_s = frame.timestamp_s
            self._awaiting_mouth = None

    def interrupt(self, frame: Interruption) -> None:
        if frame.cause is InterruptionCause.BARGE_IN:
            assert frame.speech_start_s is not None and frame.detected_s is not None
            self.barge_ins.append(
                {
                    "speechStartS": frame.speech_start_s,
                    "detectedS": frame.detected_s,
                    "silencedS": frame.cut_s,
                }
            )
