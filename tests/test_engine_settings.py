"""Engine settings that depend on each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from opencharacters.engine_settings import (
    DialogueSettings,
    EngineSettings,
    KnowledgeSettings,
    TtsSettings,
)


def _threshold(knowledge: str = "minilm", **dialogue: object) -> float:
    settings = EngineSettings(
        dialogue=DialogueSettings.model_validate(dialogue),
        knowledge=KnowledgeSettings(embedder=knowledge),  # type: ignore[arg-type]
    )
    return settings.dialogue.tool_call_threshold


pytestmark = pytest.mark.unit


def test_the_act_threshold_follows_the_deciding_model() -> None:
    assert _threshold() == 0.35
    assert _threshold(model="qwen2.5-coder-1.5b") == 1.0
    assert _threshold(action_model="qwen2.5-coder-1.5b") == 1.0
    # Without the MiniLM closeness the score is the probability alone.
    assert _threshold("none", action_model="qwen2.5-coder-1.5b") == 0.5
    # The 1.5B talks but the 0.5B decides.
    assert _threshold(model="qwen2.5-coder-1.5b", action_model="qwen2.5-coder-0.5b") == 0.35
    # A GGUF by path: nothing is known about it; what the user sets always wins.
    assert _threshold(model_path=Path("x.gguf")) == 0.35
    assert _threshold(model="qwen2.5-coder-1.5b", tool_call_threshold=0.6) == 0.6
    from_env = EngineSettings.model_validate({"dialogue": {"action_model": "qwen2.5-coder-1.5b"}})
    assert from_env.dialogue.tool_call_threshold == 1.0


def test_unknown_packaged_models_are_refused() -> None:
    with pytest.raises(ValueError, match=r"qwen2\.5-coder-1\.5b"):
        DialogueSettings(model="llama-70b")  # type: ignore[arg-type]


def test_speech_backends_and_own_voices_from_json() -> None:
    tts = TtsSettings.model_validate_json(
        '{"backend": "openai", "piper_voices": {"amy": "/v/amy.onnx"}, '
        '"preset_bases": {"clara": "amy"}, "openai_voices": {"clara": "nova"}}'
    )
    assert tts.piper_voices == {"amy": Path("/v/amy.onnx")} and tts.openai_format == "pcm"


def test_first_piece_limits_are_off_at_zero_and_never_negative() -> None:
    assert DialogueSettings(first_phrase_min_words=0, first_piece_max_words=0)
    with pytest.raises(ValidationError, match="first_piece_max_words"):
        DialogueSettings(first_piece_max_words=-1)
