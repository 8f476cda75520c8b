"""Every model this process uses, loaded once and shared.

Loading is lazy and thread-safe: the first caller of `dialogue()` loads the GGUF, every later
caller (live calls, voice-prompt reading, the next call) gets the same object. Models that keep
per-stream state are the exception and are made per use, from shared parts: the turn detector
(the VAD's ONNX session is shared, its recurrent state is not, see speech/vad.py).

Before it, the knowledge base and the live calls each loaded MiniLM, and reading voice prompts
loaded the dialogue GGUF a second time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from opencharacters.engine_settings import EngineSettings

if TYPE_CHECKING:
    from opencharacters.animation.face_model import FaceMesh
    from opencharacters.dialogue.backend import DialogueModel
    from opencharacters.dialogue.knowledge.embedding import Embedder
    from opencharacters.speech.asr import SpeechRecognizer
    from opencharacters.speech.tts import PresetSynthesizer, SpeechSynthesizer
    from opencharacters.speech.turns import TurnDetector

log = logging.getLogger(__name__)

T = TypeVar("T")
_UNSET = object()


class ModelRegistry:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._models: dict[str, object] = {}
        self._loading: dict[str, threading.Lock] = {}
        self.loads: dict[str, int] = {}
        """How many times each model was loaded (1 each, or something is wrong)."""

    def _get(self, name: str, load: Callable[[], T]) -> T:
        with self._lock:
            found = self._models.get(name, _UNSET)
            if found is not _UNSET:
                return found  # type: ignore[return-value]
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one loader per model; other models load in parallel
            with self._lock:
                found = self._models.get(name, _UNSET)
            if found is not _UNSET:
                return found  # type: ignore[return-value]
            model = load()
            with self._lock:
                self._models[name] = model
                self.loads[name] = self.loads.get(name, 0) + 1
            log.info("model loaded: %s", name)
            return model

    def recognizer(self) -> SpeechRecognizer:
        from opencharacters.speech.engines import load_recognizer

        return self._get("recognizer", lambda: load_recognizer(self.settings))

    def dialogue(self) -> DialogueModel:
        from opencharacters.dialogue.engines import load_dialogue_model

        return self._get("dialogue", lambda: load_dialogue_model(self.settings))

    def synthesizer(self) -> PresetSynthesizer:
        from opencharacters.speech.engines import load_synthesizer

        return self._get("synthesizer", lambda: load_synthesizer(self.settings))

    def speech_synthesizer(self) -> SpeechSynthesizer:
        """The calls' speech stage as configured (`tts.backend`): the embedded synthesizer
        above, or an OpenAI-compatible speech server."""
        if self.settings.tts.backend == "openai":
            from opencharacters.speech.tts_openai import OpenAISpeechSynthesizer

            return self._get("speech-server", lambda: OpenAISpeechSynthesizer(self.settings.tts))
        return self.synthesizer()

    def embedder(self) -> Embedder | None:
        """None when retrieval is configured without embeddings (BM25 alone)."""
        from opencharacters.dialogue.knowledge.embedding import load_embedder

        return self._get("embedder", lambda: load_embedder(self.settings))

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
            registry = _registries[key] = ModelRegistry(settings)
        return registry
