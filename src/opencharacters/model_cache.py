"""The process's cache of loaded models: each loaded once per engine configuration, shared.

Loading is lazy and thread-safe: the first caller loads, every later caller (live calls,
voice-prompt reading, the next call) gets the same object, and other models load in parallel.
Each package asks for its own models through it (`speech.engines.shared_recognizer`,
`dialogue.engines.shared_dialogue_model` ...); model_registry.py gathers them for a call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from opencharacters.engine_settings import EngineSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
_UNSET = object()


class ModelCache:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._models: dict[str, object] = {}
        self._loading: dict[str, threading.Lock] = {}
        self.loads: dict[str, int] = {}
        """How many times each model was loaded (1 each, or something is wrong)."""

    def shared(self, name: str, load: Callable[[], T]) -> T:
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


_caches: dict[str, ModelCache] = {}
_caches_lock = threading.Lock()


def cache_for(settings: EngineSettings) -> ModelCache:
    """The process's cache for this engine configuration (normally there is one)."""
    key = settings.model_dump_json()
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = ModelCache(settings)
        return cache
