"""Every model a call uses, each the process's shared one: loaded once per engine configuration
(model_cache.py), whether a call, the knowledge base or voice-prompt reading asks first. Models
that keep per-stream state are the exception and are made per use, from shared parts: the turn
detector (the VAD's ONNX session is shared, its recurrent state is not, see speech/vad.py).

Before it, the knowledge base and the live calls each loaded MiniLM, and reading voice prompts
loaded the dialogue GGUF a second time."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opencharacters.engine_settings import EngineSettings
from opencharacters.model_cache import ModelCache, cache_for

# The loaders are imported when first used: a process that never runs a call never imports them.
if TYPE_CHECKING:
    from opencharacters.animation.face_model import FaceMesh
    from opencharacters.dialogue.backend import DialogueModel
    from opencharacters.dialogue.knowledge.embedding import Embedder
    from opencharacters.speech.asr import SpeechRecognizer
    from opencharacters.speech.tts import PresetSynthesizer, SpeechSynthesizer
    from opencharacters.speech.turns import TurnDetector


class ModelRegistry:
    """Every model a call uses, each the process's shared one (model_cache.py)."""

    def __init__(self, settings: EngineSettings, cache: ModelCache | None = None) -> None:
        self.settings = settings
        self._cache = cache or ModelCache(settings)

    @property
    def loads(self) -> dict[str, int]:
        """How many times each model was loaded (1 each, or something is wrong)."""
        return self._cache.loads

    def recognizer(self) -> SpeechRecognizer:
        from opencharacters.speech.engines import shared_recognizer

        return shared_recognizer(self.settings, self._cache)

    def dialogue(self) -> DialogueModel:
        from opencharacters.dialogue.engines import shared_dialogue_model

        return shared_dialogue_model(self.settings, self._cache)

    def synthesizer(self) -> PresetSynthesizer:
        from opencharacters.speech.engines import shared_synthesizer

        return shared_synthesizer(self.settings, self._cache)

    def speech_synthesizer(self) -> SpeechSynthesizer:
        """The calls' speech stage as configured (`tts.backend`): the embedded synthesizer
        above, or an OpenAI-compatible speech server."""
        if self.settings.tts.backend == "openai":
            from opencharacters.speech.tts_openai import OpenAISpeechSynthesizer

            return self._cache.shared(
                "speech-server", lambda: OpenAISpeechSynthesizer(self.settings.tts)
            )
        return self.synthesizer()

    def embedder(self) -> Embedder | None:
        """None when retrieval is configured without embeddings (BM25 alone)."""
        from opencharacters.dialogue.knowledge.embedding import shared_embedder

        return shared_embedder(self.settings, self._cache)

    def face_mesh(self) -> FaceMesh:
        """Face landmarks for avatar images (not configured by engine settings: one per process,
        animation/face_model.py keeps it)."""
        from opencharacters.animation.face_model import shared_mesh

        return shared_mesh()

    def turn_detector(self, start_time_s: float = 0.0) -> TurnDetector:
        """A new one per audio stream (its state is the stream's); the VAD model is shared."""
        from opencharacters.speech.engines import load_turn_detector

        return load_turn_detector(self.settings, start_time_s)


_registries: dict[str, ModelRegistry] = {}
_registries_lock = threading.Lock()


def models_for(settings: EngineSettings) -> ModelRegistry:
    """The process's registry for this engine configuration (normally there is one)."""
    key = settings.model_dump_json()
    with _registries_lock:
        registry = _registries.get(key)
        if registry is None:
            registry = _registries[key] = ModelRegistry(settings, cache_for(settings))
        return registry
