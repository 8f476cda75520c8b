"""Scheduling priorities of a running server's threads, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def niceness_against_main_thread(root: int) -> list[int]:
    """How far below (+) or above (-) its process's main thread each thread of the server's
    processes runs, where it differs."""
    processes, found = [root], []
    while processes:
        pid = processes.pop()
        task = Path(f"/proc/{pid}/task")
        processes += [int(c) for c in (task / str(pid) / "children").read_text().split()]
        main = nice_value(task / str(pid))
        for thread in task.iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
                found.append(nice_value(thread) - main)
    return [lowered for lowered in found if lowered]


def nice_value(thread: Path) -> int:
    # Field 19 of stat, counted after the parenthesised command name (which may hold spaces).
    return int((thread / "stat").read_text().rsplit(")", 1)[1].split()[16])
