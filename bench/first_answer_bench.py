"""The first answer of a call whose persona the server has not read yet.

A persona is read once per worker process (docs/engines.md: 1,500 characters take about 5 s
on this box). A call's first answer waits for that reading when the greeting is shorter, so
this bench gives every call a new persona (the session's `personality` override, of
--chars characters) and a short greeting, asks one question as soon as the greeting ends,
and reports the first answer's latency (caller's speech end → first avatar audio leaving the
server, the `opencharacters.turn` message) and the time from the call's start to that audio.

    .venv/bin/python bench/first_answer_bench.py --rounds 3 \\
        --variant 'before=/work/wt/before/src' --variant 'after=src'

Variants run interleaved, one server per variant and round (a fresh process: nothing cached).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from common import load_average, write_results
from live_bench import (
    API_KEY,
    ROOT,
    PictureCaller,
    caller_voice,
    create_avatar,
    parse_variant,
    running_server,
)
from opencharacters.media.audio import Samples

QUESTION = "How much does a check-up cost?"
GREETING = "Hello, this is Mia."


def persona(call: int, chars: int) -> str:
    opening = (
        f"You are Mia (desk {call}), the receptionist of Sunrise Dental Clinic. The clinic is "
        "open Monday to Friday, 9am to 5pm. A check-up costs 60 dollars."
    )
    rooms = " ".join(
        f"Room {i} of the clinic has a {('blue', 'green', 'red')[i % 3]} chair." for i in range(400)
    )
    return (opening + " " + rooms)[:chars]


async def one_call(
    base: str, avatar_id: str, call_index: int, chars: int, question: tuple[Samples, int]
) -> dict[str, Any]:
    options = {"maxDuration": 120, "personality": persona(call_index, chars)}
    started = time.monotonic()
    async with PictureCaller(base, API_KEY, avatar_id, session_options=options) as call:
        connected = call.connected_at or time.monotonic()
        await call.wait_for_state("speaking", 60, seen_ok=True)
        await call.wait_until_listening(60)
        said = call.say(*question)
        end_wall = await said
        await call.wait_for_state("speaking", 120)
        answered = time.monotonic()
        await call.wait_until_listening(120)
    turns = [m for _, m in call.received.messages if m.get("type") == "opencharacters.turn"]
    first = turns[0] if turns else {}
    return {
        "firstAudioS": first.get("firstAudioS"),
        "firstTokenS": first.get("firstTokenS"),
        "createToConnectS": round(connected - started, 3),
        "speechEndToSpeakingStateS": round(answered - end_wall, 3),
    }


def run_variant(source: Path, env: dict[str, str], chars: int, calls: int, first: int) -> Any:
    question = caller_voice([QUESTION])[0]
    results = []
    with running_server({"OPENCHARACTERS_SESSION_CAPACITY": "1", **env}, source) as (base, _):
        avatar_id = create_avatar(base, startScript=GREETING)
        for index in range(calls):
            result = asyncio.run(one_call(base, avatar_id, first + index, chars, question))
            print(f"  call {index + 1}: {result}", flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=1500, help="persona length")
    parser.add_argument("--calls", type=int, default=2, help="calls per server, each new")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], help="LABEL=SRC[;ENV=V,...]")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("src", ROOT / "src", {})]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    call_index = 0
    for round_index in range(args.rounds):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for label, source, env in order:
            print(f"=== {label} (round {round_index + 1}/{args.rounds})", flush=True)
            runs[label] += run_variant(source, env, args.chars, args.calls, call_index)
            call_index += args.calls
    summary: dict[str, Any] = {}
    for label, results in runs.items():
        latencies = [r["firstAudioS"] for r in results if r["firstAudioS"] is not None]
        summary[label] = {
            "firstAudioS": latencies,
            "median": round(statistics.median(latencies), 3) if latencies else None,
        }
        print(f"{label}: first answer, first audio median {summary[label]['median']} s, "
              f"each {latencies}")  # fmt: skip
    write_results(
        "first_answer",
        {"chars": args.chars, "loadAverage": load_average(), "summary": summary, "runs": runs},
    )


if __name__ == "__main__":
    main()
