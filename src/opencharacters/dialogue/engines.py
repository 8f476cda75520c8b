"""Builds the dialogue model from settings: embedded GGUF (packaged or by path) or a server."""

from __future__ import annotations

from opencharacters.assets import ensure_asset
from opencharacters.dialogue.backend import DialogueModel
from opencharacters.dialogue.llama_backend import LlamaDialogueModel
from opencharacters.dialogue.openai_backend import OpenAIChatModel
from opencharacters.engine_settings import EngineSettings


def load_dialogue_model(settings: EngineSettings) -> DialogueModel:
    if settings.dialogue.backend == "openai":
        return OpenAIChatModel(settings.dialogue)
    path = settings.dialogue.model_path or ensure_asset(
        "qwen2.5-coder-0.5b-instruct-q4_k_m", settings
    )
    return LlamaDialogueModel(path, settings.dialogue)
