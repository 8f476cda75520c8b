"""The models every live session of this process shares (the model registry's), loaded off the
event loop.

Per session only the cheap, stateful parts are new: the VAD and turn detector (recurrent state),
the conversation (history, persona handle) and the animator (the avatar's rig)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from opencharacters.dialogue.backend import DialogueModel
from opencharacters.dialogue.knowledge.embedding import Embedder
from opencharacters.engine_settings import EngineSettings
from opencharacters.model_registry import models_for
from opencharacters.speech.asr import SpeechRecognizer
from opencharacters.speech.tts import SpeechSynthesizer
from opencharacters.thread_priority import lower_other_threads, threads_started

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SharedEngines:
    recognizer: SpeechRecognizer
    dialogue: DialogueModel
    synthesizer: SpeechSynthesizer
    load_s: float
    embedder: Embedder | None = None
    """Sentence embeddings (knowledge retrieval's model): matches caller words to actions."""


def _load(settings: EngineSettings, models_first: bool) -> SharedEngines:
    started = time.perf_counter()
    models = models_for(settings)
    synthesizer = models.speech_synthesizer()
    with threads_started() as model_threads:
        recognizer = models.recognizer()
        dialogue = models.dialogue()
    embedder = models.embedder()
    if models_first:
        lowered = lower_other_threads(settings.niceness_below_models, keep=model_threads)
        log.info(
            "%d threads run %d nice levels below the models' %d",
            lowered,
            settings.niceness_below_models,
            len(model_threads),
        )
    return SharedEngines(recognizer, dialogue, synthesizer, time.perf_counter() - started, embedder)


class EngineLoader:
    def __init__(self, settings: EngineSettings, *, models_first: bool = False) -> None:
        """`models_first`: once loaded, every other thread of this process runs
        `settings.niceness_below_models` below the models' (thread_priority.py); for a
        process that runs calls and nothing else, as a media worker does."""
        self._settings = settings
        self._models_first = models_first
        self._task: asyncio.Task[SharedEngines] | None = None

    def warm(self) -> None:
        """Starts loading in the background (at start-up, or when a session becomes READY)."""
        if self._task is None:
            self._task = asyncio.ensure_future(
                asyncio.to_thread(_load, self._settings, self._models_first)
            )
            self._task.add_done_callback(self._report)

    def loaded(self) -> SharedEngines | None:
        """The engines when they are in memory already; None while loading or not started."""
        task = self._task
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def get(self) -> SharedEngines:
        self.warm()
        assert self._task is not None
        return await asyncio.shield(self._task)

    @staticmethod
    def _report(task: asyncio.Task[SharedEngines]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("loading the speech and dialogue engines failed", exc_info=task.exception())
        else:
            log.info("engines loaded in %.1f s", task.result().load_s)
