"""The avatar's words at the moment they are heard: to the caller's data channel (Runway's
`transcription` deltas) and to the transcript being written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from opencharacters.pipeline import channel as messages
from opencharacters.pipeline.captions import TimedWord
from opencharacters.pipeline.frames import Interruption, WordHeard
from opencharacters.pipeline.stage import StageTasks


class HeardWords:
    name = "heard-words"

    def __init__(
        self,
        now: Callable[[], float],
        send: Callable[[dict[str, object]], None],
        listeners: list[Callable[[WordHeard, float], None]],
        tasks: StageTasks,
    ) -> None:
        self._now = now
        self._send = send
        self._listeners = listeners
        self._tasks = tasks
        self._queue: asyncio.Queue[tuple[int, TimedWord, float]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self._tasks.spawn(self._run(), "captions")

    def add(self, turn: int, words: list[TimedWord], turn_start_s: float) -> None:
        for word in words:
            self._queue.put_nowait((turn, word, turn_start_s))

    async def _run(self) -> None:
        while True:
            turn, word, turn_start_s = await self._queue.get()
            wait = word.at_s - self._now()
            if wait > 0:
                await asyncio.sleep(wait)
            self._send(messages.transcription("assistant", turn, word.text))
            heard = WordHeard(turn, word.text, word.at_s)
            for listener in self._listeners:
                listener(heard, turn_start_s)

    def interrupt(self, frame: Interruption) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        # The task may be asleep on a word that will not be heard: restart it.
        if self._task is not None:
            self._task.cancel()
            self.start()
