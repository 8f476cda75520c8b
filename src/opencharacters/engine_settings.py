"""Settings of the speech, dialogue and animation engines (nested under Settings.engines)."""

from __future__ import annotations

from pydantic import BaseModel


class EngineSettings(BaseModel):
    """Filled in by the engines: VAD, ASR, dialogue, TTS, model cache."""
