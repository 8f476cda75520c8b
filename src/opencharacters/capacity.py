"""How many live calls a machine takes by default: one per two usable cores.

Measured with bench/live_bench.py on a 2-core box (docs/live.md, "Calls per machine"): one call
costs about 1.2 cores of the serving process tree while the avatar talks (the dialogue model on
one thread, Whisper, Piper, rendering, the live video encoder and the recording's), so a second
call on two cores drops both below 24 fps and pushes first audio past 1.5 s. "Usable" cores are
the ones this process may run on: its CPU affinity (cpusets, `taskset`) and a cgroup v2 CPU quota
(`docker --cpus`) both count, not only the host's core count."""

from __future__ import annotations

import math
import os
from pathlib import Path

CORES_PER_CALL = 2
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = cores or os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota (or unreadable): the affinity stands
    return cores


def default_session_capacity() -> int:
    return max(1, usable_cores() // CORES_PER_CALL)
