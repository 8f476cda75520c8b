"""Thread priorities of a process that runs calls, on real threads of a child process (lowering
pytest's own threads would slow the rest of the suite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from opencharacters.thread_priority import lower_other_threads, lower_thread

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values"),
]

CHILD = textwrap.dedent(
    """
    import json, os, threading
    from opencharacters.thread_priority import lower_other_threads, threads_started

    def nice(thread):
        return os.getpriority(os.PRIO_PROCESS, thread)

    stop = threading.Event()
    def park(ids):
        ids.append(threading.get_native_id())
        stop.wait()

    model, other, later = [], [], []
    threading.Thread(target=park, args=(other,)).start()
    with threads_started() as started:
        threading.Thread(target=park, args=(model,)).start()
        while not model:
            pass
    while not other:
        pass
    base = nice(threading.get_native_id())
    lowered = lower_other_threads(3, keep=started)
    threading.Thread(target=park, args=(later,)).start()
    while not later:
        pass
    print(json.dumps({
        "base": base,
        "started": sorted(started),
        "model_thread": model[0],
        "lowered": lowered,
        "main": nice(threading.get_native_id()),
        "model": nice(model[0]),
        "other": nice(other[0]),
        "later": nice(later[0]),
        "none_for_zero": lower_other_threads(0, keep=set()),
    }))
    stop.set()
    """
)


def test_every_thread_but_the_models_is_lowered_and_new_threads_inherit_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(done.stdout)
    base = found["base"]
    assert found["started"] == [found["model_thread"]], "only the thread started in the block"
    assert found["model"] == base, "the model's thread keeps the process's priority"
    assert found["main"] == min(19, base + 3)
    assert found["other"] == min(19, base + 3), "a thread started before is lowered too"
    assert found["later"] == min(19, base + 3), "a thread started after inherits it"
    assert found["lowered"] == 2  # the main thread and the other one
    assert found["none_for_zero"] == 0


def test_no_levels_lowers_nothing() -> None:
    # (An ended thread is not tested: its id may already belong to another thread, of this
    # process or any other, which the call would then lower.)
    mine = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, mine)
    assert lower_thread(mine, 0) is False
    assert lower_other_threads(0, keep=set()) == 0
    assert os.getpriority(os.PRIO_PROCESS, mine) == before
