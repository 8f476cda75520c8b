"""Per-thread scheduling priority (Linux nice values).

The models answer first: in a media worker, the speech and dialogue models' threads keep the
process's priority and every other thread (the event loop, the media encoders, synthesis, the
recorder) runs a few nice levels below them; and a call's recorder runs below the call.

While an answer is prepared a call wants more than two cores for a moment: Whisper or the
dialogue model on one, and beside them the video encoder, the event loop, the recorder and, on
a shared box, other processes. The model's thread then waited for a core 0.15-0.6 s of each
answer (bench/call_threads_bench.py), and every wait is the caller's. The price is the media's:
at 5 levels the video missed frames while the model worked, so it is an option, off by default
(`EngineSettings.niceness_below_models`, docs/live.md, "The models answer first").

Raising the models' priority would need CAP_SYS_NICE, which containers rarely have; lowering
the other threads needs nothing. Linux keeps a nice value per thread and a new thread starts
with its creator's, so lowering the event loop's thread covers the threads it starts later,
and the models' threads, started while they loaded, keep theirs."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_TASKS = "/proc/self/task"


def _supported() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir(_TASKS)


def thread_ids() -> set[int]:
    """The kernel ids of this process's threads (empty where threads have no nice value)."""
    if not _supported():
        return set()
    with contextlib.suppress(OSError):
        return {int(name) for name in os.listdir(_TASKS)}
    return set()


@contextlib.contextmanager
def threads_started() -> Iterator[set[int]]:
    """The threads started inside the block (filled in when it ends). A thread another part of
    the process starts at the same moment is counted too: keep the block short."""
    started: set[int] = set()
    before = thread_ids()
    try:
        yield started
    finally:
        started.update(thread_ids() - before)


def lower_thread(thread: int, by: int) -> bool:
    """Lowers one thread of this process by `by` nice levels (at most to 19). False where
    threads have no nice value of their own, or the thread has ended."""
    if by <= 0 or not _supported():
        return False
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + by))
    except OSError:
        return False
    return True


def lower_other_threads(by: int, keep: set[int]) -> int:
    """Lowers every thread of this process but `keep` by `by` nice levels; returns how many
    were lowered. A thread that ends meanwhile is skipped."""
    return sum(lower_thread(thread, by) for thread in thread_ids() - keep)
