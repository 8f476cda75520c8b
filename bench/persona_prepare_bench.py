"""Preparing a long personality (the persona read once per avatar per process) on the default
runtime, by prompt-reading threads (`DIALOGUE__BATCH_THREADS`), interleaved.

Each round prepares a personality of `--chars` characters that no earlier round used (its
first words differ, so neither the persona cache nor the server's prompt cache helps), once per
thread count, the order alternating. Prints seconds and tokens/s per thread count and writes
bench/results/persona_prepare.json.

    .venv/bin/python bench/persona_prepare_bench.py --rounds 3 --threads 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from common import load_average, write_results
from opencharacters.assets import ensure_asset
from opencharacters.dialogue.engines import embedded_dialogue_model
from opencharacters.dialogue.prompt import system_prompt
from opencharacters.engine_settings import DialogueSettings

COLOURS = ("blue", "green", "red")


def personality(round_: int, chars: int) -> str:
    facts = " ".join(
        f"Fact {i}: the clinic's room {i} has a {COLOURS[i % 3]} chair." for i in range(400)
    )
    opening = (
        f"You are Mia ({round_ + 1}), the receptionist of Sunrise Dental Clinic. The clinic is "
        "open Monday to Friday, 9am to 5pm."
    )
    return system_prompt((opening + " " + facts)[:chars])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chars", type=int, default=10_000)
    parser.add_argument("--threads", default="1,2", help="prompt-reading thread counts")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = ensure_asset("qwen2.5-coder-0.5b")
    counts = [int(n) for n in args.threads.split(",")]
    models = {
        n: embedded_dialogue_model(path, DialogueSettings(batch_threads=n, temperature=0.0))
        for n in counts
    }
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    tokens: dict[int, int] = {}
    for round_ in range(args.rounds):
        order = counts if round_ % 2 == 0 else counts[::-1]
        for n in order:
            started = time.perf_counter()
            persona = await models[n].prepare(personality(round_, args.chars))
            seconds[n].append(time.perf_counter() - started)
            tokens[n] = len(getattr(persona, "prefix_tokens", []))
            print(f"round {round_ + 1}, {n} thread(s): {seconds[n][-1]:.1f} s", flush=True)
    summary: dict[str, Any] = {}
    for n in counts:
        median = statistics.median(seconds[n])
        summary[str(n)] = {
            "seconds": [round(s, 2) for s in seconds[n]],
            "median_s": round(median, 2),
            "tokens": tokens[n],
            "tokens_per_s": round(tokens[n] / median, 1),
        }
        print(
            f"{n} prompt thread(s): {tokens[n]} tokens, median {median:.1f} s "
            f"({tokens[n] / median:.0f} tokens/s), per round {summary[str(n)]['seconds']}"
        )
    write_results(
        "persona_prepare",
        {"load_average": load_average(), "rounds": args.rounds, "chars": args.chars, **summary},
    )


if __name__ == "__main__":
    asyncio.run(main())
