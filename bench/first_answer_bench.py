"""The first answer of a call whose persona the server has not read yet.

A persona is read once per worker process (docs/engines.md: 1,500 characters take about 9 s
on this box with one prompt thread). A call's first answer waits for that reading when the
greeting is shorter, so this bench gives every call a persona no call had before, of --chars
characters, and a short greeting, asks one question as soon as the greeting ends, and reports
the first answer's latency (caller's speech end → first avatar audio leaving the server: the
`opencharacters.turn` message).

--persona avatar: each call's avatar is new, created --wait-s seconds before the call (a
developer who saves an avatar, then opens its call page); --persona session: one avatar, each
session with its own `personality` override (nothing can be read before the session exists).

    .venv/bin/python bench/first_answer_bench.py --rounds 2 --persona avatar --wait-s 15 \\
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
    base: str, avatar_id: str, options: dict[str, Any], question: tuple[Samples, int]
) -> dict[str, Any]:
    options = {"maxDuration": 120, **options}
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


def run_variant(
    args: argparse.Namespace, source: Path, env: dict[str, str], first: int
) -> list[dict[str, Any]]:
    question = caller_voice([QUESTION])[0]
    results = []
    with running_server({"OPENCHARACTERS_SESSION_CAPACITY": "1", **env}, source) as (base, _):
        # The models are in memory (the worker says so in /readyz) before anything is timed.
        shared = create_avatar(base, startScript=GREETING)
        asyncio.run(one_call(base, shared, {}, question))
        for index in range(args.calls):
            text = persona(first + index, args.chars)
            if args.persona == "avatar":
                avatar_id = create_avatar(base, startScript=GREETING, personality=text)
                time.sleep(args.wait_s)
                options: dict[str, Any] = {}
            else:
                avatar_id, options = shared, {"personality": text}
            result = asyncio.run(one_call(base, avatar_id, options, question))
            print(f"  call {index + 1}: {result}", flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=1500, help="persona length")
    parser.add_argument("--calls", type=int, default=2, help="calls per server, each new")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--persona", choices=("avatar", "session"), default="avatar")
    parser.add_argument("--wait-s", type=float, default=15.0, help="avatar saved → call")
    parser.add_argument("--variant", action="append", default=[], help="LABEL=SRC[;ENV=V,...]")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("src", ROOT / "src", {})]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    call_index = 0
    for round_index in range(args.rounds):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for label, source, env in order:
            print(f"=== {label} (round {round_index + 1}/{args.rounds})", flush=True)
            runs[label] += run_variant(args, source, env, call_index)
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
        {
            "chars": args.chars,
            "persona": args.persona,
            "waitS": args.wait_s,
            "loadAverage": load_average(),
            "summary": summary,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
