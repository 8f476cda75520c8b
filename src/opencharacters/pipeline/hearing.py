"""The hearing stage: the caller's audio through the turn detector and streaming ASR."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from opencharacters.engine_settings import AsrSettings
from opencharacters.media.audio import AudioChunk
from opencharacters.pipeline.frames import Interruption, ListenerEvent
from opencharacters.pipeline.ports import SpeechRecognizer, TurnDetection
from opencharacters.speech.listener import Listener, PartialTranscript


class Hearing:
    name = "hearing"

    def __init__(
        self,
        new_detector: Callable[[float], Awaitable[TurnDetection]],
        settings: AsrSettings,
    ) -> None:
        self._new_detector = new_detector
        self._settings = settings

    async def run(
        self,
        audio: AsyncIterator[AudioChunk],
        recognizer: SpeechRecognizer,
        on_event: Callable[[ListenerEvent, bool], Awaitable[None]],
    ) -> None:
        """Calls `on_event(event, paused)` for each event; `paused`: the caller is silent
        mid-turn (a partial transcript then is worth answering speculatively)."""
        first = await anext(audio, None)
        if first is None:
            return
        # The detector's clock starts at the first packet's session time.
        detector = await self._new_detector(first.timestamp_s)
        listener = Listener(detector, recognizer, self._settings)

        async def everything() -> AsyncIterator[AudioChunk]:
            yield first
            async for chunk in audio:
                yield chunk

        async for event in listener.listen(everything()):
            paused = isinstance(event, PartialTranscript) and detector.silence_started
            await on_event(event, paused)

    def interrupt(self, frame: Interruption) -> None:
        """The caller's side is never dropped."""
