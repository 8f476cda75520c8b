"""Background jobs' CPU: one job at a time, on a thread below the rest of the process."""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading

import pytest

from opencharacters.background_cpu import BackgroundCpu

pytestmark = pytest.mark.unit

_job = contextvars.ContextVar("job", default="none")


def _where() -> tuple[int, int, str]:
    thread = threading.get_native_id()
    return thread, os.getpriority(os.PRIO_PROCESS, thread), _job.get()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values")
async def test_work_runs_on_a_thread_below_the_loop_with_the_callers_context() -> None:
    cpu = BackgroundCpu(niceness=7)
    try:
        loop_thread = threading.get_native_id()
        loop_nice = os.getpriority(os.PRIO_PROCESS, loop_thread)
        _job.set("avatar-42")
        async with cpu:
            thread, nice, job = await cpu.run(_where)
            again, _, _ = await cpu.run(_where)
        assert thread != loop_thread
        assert again == thread  # one thread, lowered once
        assert nice == min(19, loop_nice + 7)
        assert job == "avatar-42"
        assert os.getpriority(os.PRIO_PROCESS, loop_thread) == loop_nice
    finally:
        cpu.close()


async def test_one_job_holds_the_cpu_at_a_time() -> None:
    cpu = BackgroundCpu(niceness=0)
    order: list[str] = []
    release = asyncio.Event()

    async def job(name: str) -> None:
        async with cpu:
            order.append(f"{name} starts")
            await release.wait()
            order.append(f"{name} ends")

    try:
        first = asyncio.create_task(job("first"))
        await asyncio.sleep(0)
        assert cpu.locked()
        second = asyncio.create_task(job("second"))
        await asyncio.sleep(0.01)
        assert order == ["first starts"]
        release.set()
        await asyncio.gather(first, second)
        assert order == ["first starts", "first ends", "second starts", "second ends"]
        assert not cpu.locked()
    finally:
        cpu.close()


async def test_an_error_in_the_work_reaches_the_caller() -> None:
    cpu = BackgroundCpu(niceness=0)

    def broken() -> None:
        raise ValueError("not an image")

    try:
        with pytest.raises(ValueError, match="not an image"):
            await cpu.run(broken)
    finally:
        cpu.close()
