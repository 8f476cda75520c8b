"""One model registry per process: every model loaded once, whoever asks first."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from opencharacters.engine_settings import EngineSettings
from opencharacters.model_registry import ModelRegistry, models_for

pytestmark = pytest.mark.unit


def test_a_model_is_loaded_once_however_many_ask_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import opencharacters.dialogue.knowledge.embedding as embedding

    loads: list[int] = []

    def slow_load(settings: EngineSettings) -> Any:
        loads.append(1)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(embedding, "load_embedder", slow_load)
    registry = ModelRegistry(EngineSettings())
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(registry.embedder())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and registry.loads == {"embedder": 1}
    assert all(model is got[0] for model in got)


def test_one_registry_per_configuration() -> None:
    settings = EngineSettings()
    assert models_for(settings) is models_for(EngineSettings())
    other = settings.model_copy(
        update={"dialogue": settings.dialogue.model_copy(update={"threads": 3})}
    )
    assert models_for(other) is not models_for(settings)


def test_the_knowledge_base_and_the_calls_share_the_embedder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import opencharacters.dialogue.knowledge.embedding as embedding
    from opencharacters.dialogue.knowledge.service import KnowledgeBase

    made: list[object] = []

    def load(settings: EngineSettings) -> object:
        made.append(object())
        return made[-1]

    monkeypatch.setattr(embedding, "load_embedder", load)
    settings = EngineSettings(knowledge={"threads": 2})  # a registry of its own for this test
    knowledge = KnowledgeBase(None, settings)  # type: ignore[arg-type]
    from_knowledge = asyncio.run(knowledge.embedder())
    assert from_knowledge is models_for(settings).embedder()
    assert len(made) == 1


def test_calls_speak_through_the_configured_speech_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    import opencharacters.speech.engines as speech_engines
    from opencharacters.speech.tts_openai import OpenAISpeechSynthesizer

    embedded = object()
    monkeypatch.setattr(speech_engines, "load_synthesizer", lambda settings: embedded)
    local = ModelRegistry(EngineSettings())
    assert local.speech_synthesizer() is embedded is local.synthesizer()
    server = ModelRegistry(EngineSettings(tts={"backend": "openai"}))
    speech = server.speech_synthesizer()
    assert isinstance(speech, OpenAISpeechSynthesizer) and server.speech_synthesizer() is speech
