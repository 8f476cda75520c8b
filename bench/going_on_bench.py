"""An answer cut by a sound that holds no words: does the avatar go on, and how soon.

Each call's avatar says a four-sentence greeting; --at-s seconds into it the caller says
--sound ("Um." in Piper's "vincent" voice by default). Reported per call: the sound's onset →
the interruption message (barge-in, as the caller sees it), the sound's end → the first loud
avatar audio after it (the answer going on), the sentence it went on from, and whether the sound
became a caller turn. Variants (--variant LABEL=SRC) run interleaved, one server per variant and
round, so old code (which stays silent) and new can be compared in one run:

    cd bench && ../.venv/bin/python going_on_bench.py --rounds 2 \\
        --variant before=/work/wt/before/src --variant after=../src
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import load_average, write_results
from live_bench import API_KEY, ROOT, caller_voice, create_avatar, parse_variant, running_server
from opencharacters.client.call import Caller, CallTimeout
from opencharacters.media.audio import Samples

SENTENCES = [
    "Welcome to the harbour museum.",
    "Our first hall shows the ships that were built here a century ago.",
    "The second hall is about the lighthouse keepers and their families.",
    "At the end you can climb the old crane and look over the whole bay.",
]
LOUD = 0.02


async def one_call(base: str, avatar_id: str, at_s: float, sound: tuple[Samples, int]) -> Any:
    samples, rate = sound
    async with Caller(base, API_KEY, avatar_id, session_options={"maxDuration": 90}) as call:
        await call.wait_for_state("speaking", 60)
        await asyncio.sleep(at_s)
        said = call.say(samples, rate)
        sound_end = await said
        onset = sound_end - len(samples) / rate
        cut_at = await call.wait_for(lambda m: m.get("type") == "opencharacters.interrupted", 15)
        await call.wait_until_listening(30)
        # Either the answer goes on (speaking again), or the call stays quiet for good.
        went_on = True
        try:
            await call.wait_for_state("speaking", 8)
            await call.wait_until_listening(60)
        except CallTimeout:  # nothing more was said
            went_on = False
        audio = call.received.audio
    again_at = next((at for at, s in audio if at > sound_end and np.abs(s).max() > LOUD), None)
    said_turns = call.received.transcript("assistant")
    heard = next(
        m["heard"]
        for _, m in call.received.messages
        if m.get("type") == "opencharacters.interrupted"
    )
    again = said_turns.get(max(said_turns), "").strip() if went_on and len(said_turns) > 1 else ""
    from_sentence = next(
        (i for i in range(len(SENTENCES)) if again and again == " ".join(SENTENCES[i:])), None
    )
    counts = np.cumsum([len(sentence.split()) for sentence in SENTENCES])
    cut_sentence = int(np.searchsorted(counts, len(heard.split()), side="right"))
    return {
        "onsetToInterruptedS": round(cut_at - onset, 3),
        "wentOn": went_on,
        "soundEndToAudioAgainS": round(again_at - sound_end, 3) if went_on and again_at else None,
        "heardWords": len(heard.split()),
        "cutSentence": cut_sentence,
        "wentOnFromSentence": from_sentence,
        "callerTurns": len(call.received.transcript("user")),
    }


def run_variant(args: argparse.Namespace, source: Path, env: dict[str, str]) -> list[Any]:
    sound = caller_voice([args.sound])[0]
    results = []
    with running_server({"OPENCHARACTERS_SESSION_CAPACITY": "1", **env}, source) as (base, _):
        avatar_id = create_avatar(base, name="Max", startScript=" ".join(SENTENCES))
        for at_s in args.at_s:
            result = asyncio.run(one_call(base, avatar_id, at_s, sound))
            result["atS"] = at_s
            print(f"  at {at_s} s: {result}", flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sound", default="Um.")
    parser.add_argument("--at-s", type=float, nargs="+", default=[2.0, 4.0, 6.0])
    parser.add_argument("--variant", action="append", default=[], help="LABEL=SRC[;ENV=V,...]")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("src", ROOT / "src", {})]
    runs: dict[str, list[Any]] = {label: [] for label, _, _ in variants}
    started = time.monotonic()
    for round_index in range(args.rounds):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for label, source, env in order:
            print(f"=== {label} (round {round_index + 1}/{args.rounds})", flush=True)
            runs[label] += run_variant(args, source, env)
    summary: dict[str, Any] = {}
    for label, results in runs.items():
        again = [r["soundEndToAudioAgainS"] for r in results if r["soundEndToAudioAgainS"]]
        cut = [r["onsetToInterruptedS"] for r in results]
        summary[label] = {
            "calls": len(results),
            "wentOn": sum(r["wentOn"] for r in results),
            "fromTheCutSentence": sum(r["wentOnFromSentence"] == r["cutSentence"] for r in results),
            "callerTurns": sum(r["callerTurns"] for r in results),
            "onsetToInterruptedP50S": round(statistics.median(cut), 3),
            "soundEndToAudioAgainP50S": round(statistics.median(again), 3) if again else None,
            "soundEndToAudioAgainS": again,
        }
        print(f"{label}: {summary[label]}")
    write_results(
        "going_on",
        {
            "sound": args.sound,
            "atS": args.at_s,
            "loadAverage": load_average(),
            "wallS": round(time.monotonic() - started, 1),
            "summary": summary,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
