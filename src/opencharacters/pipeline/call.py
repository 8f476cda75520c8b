"""The work order of one call and the ways it can end."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from opencharacters.animation.stream import DEFAULT_FPS
from opencharacters.dialogue.tools import ToolSpec
from opencharacters.speech.tts import Voice


class Outcome(enum.Enum):
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Ending:
    outcome: Outcome
    reason: str
    failure: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class CallSpec:
    """Everything a worker needs to run the call: self-contained, no database access needed."""

    session_id: str
    organization_id: str
    rig_json: bytes
    voice: Voice
    """A preset id or a custom voice's design."""
    personality: str
    start_script: str | None
    max_duration_s: int
    fps: int = DEFAULT_FPS
    tools: tuple[ToolSpec, ...] = ()
    avatar_id: str = ""
