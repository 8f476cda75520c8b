"""What every stage of a call offers, and the task group that runs their work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from opencharacters.pipeline.frames import Interruption

log = logging.getLogger(__name__)


class Stage(Protocol):
    name: str

    def interrupt(self, frame: Interruption) -> None:
        """Drop whatever belongs to the interrupted turn, at once (never awaits)."""


class StageTasks:
    """The call's background tasks: named, cancelled together, and a failure of any of them
    reported once (the call then ends as FAILED)."""

    def __init__(self, session_id: str, on_failure: Callable[[str, BaseException], None]) -> None:
        self._session_id = session_id
        self._on_failure = on_failure
        self._tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(f"{self._session_id}:{name}")
        task.add_done_callback(self._done)
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(task)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        log.error("session %s: %s failed", self._session_id, task.get_name(), exc_info=exc)
        self._on_failure(task.get_name().split(":")[-1], exc)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
