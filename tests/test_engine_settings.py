"""Engine settings that depend on each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencharacters.engine_settings import DialogueSettings, TtsSettings

pytestmark = pytest.mark.unit


def test_the_act_threshold_follows_the_deciding_model() -> None:
    assert DialogueSettings().tool_call_threshold == 0.35
    assert DialogueSettings(model="qwen2.5-coder-1.5b").tool_call_threshold == 1.0
    assert DialogueSettings(action_model="qwen2.5-coder-1.5b").tool_call_threshold == 1.0
    # The 0.5B decides for itself when the 1.5B talks but actions are the 0.5B's.
    split = DialogueSettings(model="qwen2.5-coder-1.5b", action_model="qwen2.5-coder-0.5b")
    assert split.tool_call_threshold == 0.35
    # A GGUF by path: nothing is known about it; what the user sets always wins.
    assert DialogueSettings(model_path=Path("x.gguf")).tool_call_threshold == 0.35
    chosen = DialogueSettings(model="qwen2.5-coder-1.5b", tool_call_threshold=0.6)
    assert chosen.tool_call_threshold == 0.6


def test_unknown_packaged_models_are_refused() -> None:
    with pytest.raises(ValueError, match=r"qwen2\.5-coder-1\.5b"):
        DialogueSettings(model="llama-70b")  # type: ignore[arg-type]


def test_speech_backends_and_own_voices_from_json() -> None:
    tts = TtsSettings.model_validate_json(
        '{"backend": "openai", "piper_voices": {"amy": "/v/amy.onnx"}, '
        '"preset_bases": {"clara": "amy"}, "openai_voices": {"clara": "nova"}}'
    )
    assert tts.piper_voices == {"amy": Path("/v/amy.onnx")} and tts.openai_format == "pcm"
