"""Who holds the cores while the avatar prepares an answer: one bench call, every thread sampled.

Starts a server (bench/live_bench.py's), makes one call of `--turns` questions and reads, every
10 ms, each thread's CPU time and its time spent waiting for a core (`/proc/.../schedstat`) in the
server's processes and in this process (the caller). For each turn it prints the threads that
ran most between the end of the caller's speech and the first avatar audio leaving the server,
with what each waited: a thread on the answer's path that waits is time the caller waits too.

    cd bench && ../.venv/bin/python call_threads_bench.py --turns 6 --caller-niceness 0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from common import load_average, write_results
from live_bench import (
    QUESTIONS,
    ROOT,
    as_caller,
    caller_voice,
    conversation_run,
    create_avatar,
    measure_ready,
    process_tree,
    running_server,
)

Sample = tuple[float, int, int, int, int]
"""(monotonic time, pid, tid, ns on a core, ns waiting for one)"""


def sample_threads(pids: list[int], into: list[Sample]) -> None:
    at = time.monotonic()
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError):
                    ran, waited, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                    into.append((at, pid, int(tid), int(ran), int(waited)))


def window(samples: list[Sample], start: float, end: float) -> dict[tuple[int, int], list[float]]:
    """Per (pid, tid): [seconds on a core, seconds waiting] between two instants."""
    first: dict[tuple[int, int], Sample] = {}
    last: dict[tuple[int, int], Sample] = {}
    for sample in samples:
        key = (sample[1], sample[2])
        if sample[0] <= start:
            first[key] = sample
        if sample[0] <= end:
            last[key] = sample
    return {
        key: [(last[key][3] - begun[3]) / 1e9, (last[key][4] - begun[4]) / 1e9]
        for key, begun in first.items()
        if key in last
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--caller-niceness", type=int, default=0)
    parser.add_argument("--variant-env", action="append", default=[], help="NAME=VALUE")
    args = parser.parse_args()
    env = {
        "OPENCHARACTERS_SESSION_CAPACITY": "1",
        "OPENCHARACTERS_ENGINES__DIALOGUE__TEMPERATURE": "0",
        **dict(pair.split("=", 1) for pair in args.variant_env),
    }
    lines = caller_voice(list(QUESTIONS[: args.turns]))
    samples: list[Sample] = []
    done = threading.Event()
    with running_server(env, ROOT / "src") as (base, server_pid):
        avatar_id = create_avatar(base)
        measure_ready(base, avatar_id, 1)
        roles = {os.getpid(): "caller"}

        def sampler() -> None:
            while not done.is_set():
                tree = process_tree(server_pid)
                for pid in tree:
                    roles.setdefault(pid, "server" if pid == server_pid else "worker")
                sample_threads([*tree, os.getpid()], samples)
                time.sleep(0.01)

        watcher = threading.Thread(target=sampler, daemon=True)
        watcher.start()
        result = as_caller(args.caller_niceness, conversation_run(base, avatar_id, lines))
        done.set()
        watcher.join()
    messages = [m for _, m in result["received"].messages]
    origin = next(m["monotonicOrigin"] for m in messages if "monotonicOrigin" in m)
    report: list[dict[str, Any]] = []
    for turn in result["turns"]:
        start = origin + turn["speechEndS"]
        used = window(samples, start, start + turn["firstAudioS"])
        top = sorted(used.items(), key=lambda item: -item[1][0])[:8]
        print(f"\nturn {turn['turn']}: first audio {turn['firstAudioS']:.3f} s after speech end")
        rows = []
        for (pid, tid), (ran, waited) in top:
            print(f"  {roles.get(pid, '?'):7} {tid:>8}  ran {ran:.3f} s  waited {waited:.3f} s")
            rows.append({"role": roles.get(pid), "tid": tid, "ranS": ran, "waitedS": waited})
        server_side = [times for (pid, _), times in top if roles.get(pid) != "caller"]
        busiest = server_side[0] if server_side else [0.0, 0.0]
        report.append(
            {"turn": turn, "threads": rows, "busiestRanS": busiest[0], "busiestWaitedS": busiest[1]}
        )
    caller_share = [
        sum(r["ranS"] for r in row["threads"] if r["role"] == "caller") for row in report
    ]
    print(
        f"\nfirst audio p50 {statistics.median(t['firstAudioS'] for t in result['turns']):.3f} s;"
        f" busiest server thread waited p50 "
        f"{statistics.median(r['busiestWaitedS'] for r in report):.3f} s per answer;"
        f" the caller ran p50 {statistics.median(caller_share):.3f} s per answer"
    )
    write_results(
        "call_threads",
        {
            "loadAverage": load_average(),
            "callerNiceness": args.caller_niceness,
            "env": env,
            "turns": report,
        },
    )


if __name__ == "__main__":
    main()
