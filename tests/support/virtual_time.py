"""An event loop on virtual time, for stage tests of real-time code.

Time moves only when nothing can run: the loop then jumps to its next timer instead of sleeping,
so a test of a 300 s call takes milliseconds and its timings are exact. Work handed to threads
(`asyncio.to_thread`, `run_in_executor`) is waited for in real time with the virtual clock
stopped: to the code under test, computing is instantaneous and only sleeping takes time."""

from __future__ import annotations

import asyncio
import functools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        loop = self.loop
        assert loop is not None
        if loop.threads_running:
            # A thread will wake the loop when its result is ready; virtual time waits for it.
            return super().select(None if timeout is None else 0.05)
        if timeout is None:
            return super().select(None)
        loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self.threads_running = 0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        self.threads_running += 1
        future = super().run_in_executor(executor, func, *args)
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: asyncio.Future[Any]) -> None:
        self.threads_running -= 1


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Runs `coro` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        # As asyncio.run does: tasks the test left running are cancelled and awaited.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def virtual_time(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Decorates an `async def` test to run on virtual time (fixtures are passed through)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        run_virtual(test(*args, **kwargs))

    return run
