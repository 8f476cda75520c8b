"""Scheduling priorities of a running server's threads, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def niceness_against_main_thread(root: int) -> list[int]:
    """How far below (+) or above (-) its process's main thread each thread of the server's
    processes runs, where it differs."""
    processes, found = [root], []
    while processes:
        pid = processes.pop()
        task = Path(f"/proc/{pid}/task")
        processes += [int(c) for c in (task / str(pid) / "children").read_text().split()]
        main = os.getpriority(os.PRIO_PROCESS, pid)  # a thread id: that thread's value alone
        for thread in task.iterdir():
            with contextlib.suppress(OSError):  # the thread ended
                found.append(os.getpriority(os.PRIO_PROCESS, int(thread.name)) - main)
    return [lowered for lowered in found if lowered]
