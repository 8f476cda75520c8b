"""Builds the dialogue model from settings: embedded GGUF (packaged or by path) or a server."""

from __future__ import annotations

from pathlib import Path

from opencharacters.assets import DIALOGUE_MODELS, ensure_asset
from opencharacters.dialogue.backend import DialogueModel
from opencharacters.dialogue.llama_backend import LlamaDialogueModel
from opencharacters.dialogue.openai_backend import OpenAIChatModel
from opencharacters.dialogue.split_model import SplitDialogueModel
from opencharacters.dialogue.xllamacpp_backend import XLlamaDialogueModel
from opencharacters.engine_settings import DialogueSettings, EngineSettings
from opencharacters.model_cache import ModelCache, cache_for


def dialogue_model_path(settings: EngineSettings) -> Path:
    """The GGUF the embedded backend talks with: `model_path`, else the packaged `model`."""
    if settings.dialogue.model_path is not None:
        return settings.dialogue.model_path
    return ensure_asset(DIALOGUE_MODELS[settings.dialogue.model], settings)


EmbeddedDialogueModel = XLlamaDialogueModel | LlamaDialogueModel


def embedded_dialogue_model(path: Path, settings: DialogueSettings) -> EmbeddedDialogueModel:
    """A GGUF loaded by the configured runtime (`runtime`: xllamacpp unless set)."""
    if settings.runtime == "llama-cpp-python":
        return LlamaDialogueModel(path, settings)
    return XLlamaDialogueModel(path, settings)


def load_dialogue_model(settings: EngineSettings) -> DialogueModel:
    if settings.dialogue.backend == "openai":
        return OpenAIChatModel(settings.dialogue)
    talker = embedded_dialogue_model(dialogue_model_path(settings), settings.dialogue)
    action_model = settings.dialogue.action_model
    if action_model == "same" or (
        settings.dialogue.model_path is None and action_model == settings.dialogue.model
    ):
        return talker
    decider = embedded_dialogue_model(
        ensure_asset(DIALOGUE_MODELS[action_model], settings), settings.dialogue
    )
    return SplitDialogueModel(talker, decider)


def shared_dialogue_model(
    settings: EngineSettings, cache: ModelCache | None = None
) -> DialogueModel:
    """The process's dialogue model for this configuration: one GGUF in memory, whoever asks."""
    return (cache or cache_for(settings)).shared("dialogue", lambda: load_dialogue_model(settings))
