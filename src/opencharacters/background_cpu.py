"""The CPU for background jobs (avatar images, avatar videos, custom voices): one job at a time,
on a thread of its own that runs below everything else in its process.

On a small machine the API and a media worker share the cores. A job was one more full core of
work beside a call (a 10 s avatar video: Piper, the face and x264 for several seconds), and a
call's dialogue model then waited for a core on every answer. A job's result is awaited by
nobody in real time, so its thread takes what the calls leave; threads it starts (x264's, for
one) inherit its nice value. Models a job uses but another thread loaded keep their own
threads' priority."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import ParamSpec, TypeVar

from opencharacters.thread_priority import lower_thread

P = ParamSpec("P")
T = TypeVar("T")


class BackgroundCpu:
    """`async with cpu:` holds the one slot; `await cpu.run(fn, ...)` runs CPU-bound work on
    the lowered thread. Create it on the event loop that uses it."""

    def __init__(self, niceness: int) -> None:
        """`niceness`: how far below the process the thread runs (Settings.background_niceness)."""
        self.niceness = niceness
        self._slot = asyncio.Semaphore(1)
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix="background-cpu", initializer=self._lower_this_thread
        )

    def _lower_this_thread(self) -> None:
        lower_thread(threading.get_native_id(), self.niceness)

    def locked(self) -> bool:
        """A job holds the slot (another one would wait)."""
        return self._slot.locked()

    async def __aenter__(self) -> None:
        await self._slot.acquire()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._slot.release()

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args, **kwargs)` on the background thread, with the caller's context
        variables (as `asyncio.to_thread` carries them: a job's lease, for one)."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def close(self) -> None:
        """Stops the thread once the work it runs has returned."""
        self._thread.shutdown(wait=False, cancel_futures=True)
