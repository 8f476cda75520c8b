"""An answer cut by a sound that holds no words: does the avatar go on, and how soon.

Each call's avatar says a four-sentence greeting; --at-s seconds into it the caller says
--sound (by default espeak-ng's "Um, um.", which Whisper hears as such through Opus; Piper's
"Um." came back as "and" or "down" in half its renderings; --voice vincent for Piper).
Reported per call: the sound's onset → the interruption message (barge-in, as the caller sees
it); what followed (the greeting going on, from which sentence, or the sound answered as a
caller's turn, or silence); and the sound's end → the avatar's "speaking" state again (sent
as the first audio leaves the server). Variants (--variant LABEL=SRC) run interleaved, one
server per variant and round:

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

from common import espeak, load_average, write_results
from live_bench import API_KEY, ROOT, caller_voice, create_avatar, parse_variant, running_server
from opencharacters.client.call import Caller, CallTimeout
from opencharacters.media.audio import Samples

SENTENCES = [
    "Welcome to the harbour museum.",
    "Our first hall shows the ships that were built here a century ago.",
    "The second hall is about the lighthouse keepers and their families.",
    "At the end you can climb the old crane and look over the whole bay.",
]


async def one_call(base: str, avatar_id: str, at_s: float, sound: tuple[Samples, int]) -> Any:
    samples, rate = sound
    async with Caller(base, API_KEY, avatar_id, session_options={"maxDuration": 90}) as call:
        await call.wait_for_state("speaking", 60)
        await asyncio.sleep(at_s)
        before = len(call.received.messages)
        sound_end = await call.say(samples, rate)  # resolves once the last packet is sent
        onset = sound_end - len(samples) / rate
        cut = _first(call.received.messages, before, _interrupted)
        if cut is None:
            try:
                await call.wait_for(_interrupted, 10)
            except CallTimeout:  # too short or too quiet to be taken for speech
                return {"interrupted": False}
            cut = _first(call.received.messages, before, _interrupted)
        assert cut is not None
        cut_at = call.received.messages[cut][0]
        # The avatar speaks again (the answer goes on, or the sound is answered), or not at all.
        again_at: float | None
        try:
            spoke = await call.wait_for_state_since("speaking", cut + 1, 10)
            again_at = call.received.messages[spoke][0]
            await call.wait_until_listening(60)
        except CallTimeout:
            again_at = None
    said_turns = call.received.transcript("assistant")
    heard = next(m["heard"] for _, m in call.received.messages if _interrupted(m))
    again = said_turns[max(said_turns)].strip() if again_at and len(said_turns) > 1 else ""
    from_sentence = next(
        (i for i in range(len(SENTENCES)) if again and again == " ".join(SENTENCES[i:])), None
    )
    counts = np.cumsum([len(sentence.split()) for sentence in SENTENCES])
    cut_sentence = int(np.searchsorted(counts, len(heard.split()), side="right"))
    return {
        "interrupted": True,
        "onsetToInterruptedS": round(cut_at - onset, 3),
        "spokeAgain": again_at is not None,
        "wentOn": from_sentence is not None,
        # The speaking state is sent when the first audio of what follows leaves the server.
        "soundEndToSpeakingAgainS": round(again_at - sound_end, 3) if again_at else None,
        "heardWords": len(heard.split()),
        "cutSentence": cut_sentence,
        "wentOnFromSentence": from_sentence,
        "callerTurns": len(call.received.transcript("user")),
    }


def _interrupted(message: dict[str, Any]) -> bool:
    return message.get("type") == "opencharacters.interrupted"


def _first(messages: list[tuple[float, dict[str, Any]]], since: int, wanted: Any) -> int | None:
    return next((i for i in range(since, len(messages)) if wanted(messages[i][1])), None)


def run_variant(args: argparse.Namespace, source: Path, env: dict[str, str]) -> list[Any]:
    if args.voice == "espeak":
        sound = espeak(args.sound, speed=150)
    else:
        sound = caller_voice([args.sound], args.voice)[0]
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
    parser.add_argument("--sound", default="Um, um.")
    parser.add_argument("--voice", default="espeak", help="espeak, or a Piper preset voice")
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
        cut_calls = [r for r in results if r["interrupted"]]
        going_on = [r["soundEndToSpeakingAgainS"] for r in cut_calls if r["wentOn"]]
        cut = [r["onsetToInterruptedS"] for r in cut_calls]
        summary[label] = {
            "calls": len(results),
            "interrupted": len(cut_calls),
            "wentOn": sum(r["wentOn"] for r in cut_calls),
            "fromTheCutSentence": sum(
                r["wentOnFromSentence"] == r["cutSentence"] for r in cut_calls if r["wentOn"]
            ),
            "soundAnsweredAsATurn": sum(r["callerTurns"] > 0 for r in cut_calls),
            "silentAfterTheCut": sum(not r["spokeAgain"] for r in cut_calls),
            "onsetToInterruptedP50S": round(statistics.median(cut), 3) if cut else None,
            "soundEndToGoingOnP50S": round(statistics.median(going_on), 3) if going_on else None,
            "soundEndToGoingOnS": going_on,
        }
        print(f"{label}: {summary[label]}")
    write_results(
        "going_on",
        {
            "sound": args.sound,
            "voice": args.voice,
            "atS": args.at_s,
            "loadAverage": load_average(),
            "wallS": round(time.monotonic() - started, 1),
            "summary": summary,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
