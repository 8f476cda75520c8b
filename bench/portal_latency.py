"""First-word latency of a call from the portal in Chromium, against the same question from the
command-line caller (aiortc), on the same server and machine.

Both ends measure the same things, from the server's own per-turn report
(`opencharacters.turn`, seconds after the caller stopped speaking): end-of-turn wait, first
clause of text, first audio leaving the server. The browser run also records, in the page, the
time from the "thinking" badge to the "speaking" one, which is what a person watching the portal
sees; and the CPU the browser's processes used meanwhile (they share the machine's cores with the
server's hearing, thinking and speaking).

    .venv/bin/python bench/portal_latency.py --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.browser import launch_chromium

from common import load_average, write_results
from live_bench import API_KEY, create_avatar, running_server
from opencharacters.client.call import MIC_RATE, Caller
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import resample, wav_bytes
from opencharacters.speech.engines import load_synthesizer

# A long question, as in the report that prompted this measurement (issue 18).
QUESTION = (
    "Hello Mia, I would like to know when the clinic is open during the week, and how much a "
    "regular check-up costs, because I need to book one for my daughter soon."
)


def question_audio() -> tuple[np.ndarray[Any, Any], int]:
    synthesizer = load_synthesizer(EngineSettings())
    return synthesizer.synthesize_text(QUESTION, "vincent"), synthesizer.sample_rate


def chromium_cpu_seconds() -> float:
    """User + system CPU of every Chromium process now running (ours: the bench starts one)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if "chrom" not in name:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def cli_run(
    base: str, avatar_id: str, audio: tuple[np.ndarray[Any, Any], int]
) -> dict[str, Any]:
    async with Caller(base, API_KEY, avatar_id) as call:
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        await call.say(*audio)
        await call.wait_for_state("speaking", 240)
        await call.wait_until_listening(240)
        messages = call.received.messages
    turn = [m for _, m in messages if m.get("type") == "opencharacters.turn"][-1]
    states = [(t, m["state"]) for t, m in messages if m.get("type") == "opencharacters.state"]
    thinking = [t for t, s in states if s == "thinking"][-1]
    speaking = next(t for t, s in states if s == "speaking" and t > thinking)
    return {**_turn(turn), "thinkingToSpeakingS": round(speaking - thinking, 3)}


def _turn(turn: dict[str, Any]) -> dict[str, Any]:
    keys = ("endOfTurnWaitS", "firstClauseS", "firstAudioS")
    return {key: turn.get(key) for key in keys}


def browser_run(base: str, avatar_id: str, microphone: Path, browser: Any) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    try:
        page.goto(f"{base}/portal/")
        page.fill("#api-key", API_KEY)
        page.keyboard.press("Enter")
        page.wait_for_selector("main[data-page=characters] h1")
        page.evaluate(f"location.hash = '#/test/{avatar_id}'")
        page.wait_for_selector("#start-call")
        page.check("#mic-off")  # the microphone (the question) opens after the greeting
        page.click("#start-call")
        # Polled: the portal's Content-Security-Policy forbids wait_for_function's eval.
        deadline = time.monotonic() + 60
        while not page.evaluate("Boolean(window.portalCall && portalCall.status === 'active')"):
            if time.monotonic() > deadline:
                raise RuntimeError("the browser call never connected")
            time.sleep(0.1)
        page.evaluate(
            """() => {
                window.benchStates = [];
                window.benchTurns = [];
                portalCall.on('state', (s) => benchStates.push([performance.now(), s]));
                portalCall.on('turn', (t) => benchTurns.push(t));
            }"""
        )
        wait_state(page, "listening", 60)
        cpu_before, wall_before = chromium_cpu_seconds(), time.monotonic()
        page.click("#mic")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not page.evaluate("benchTurns.length"):
            time.sleep(0.2)
        cpu = (chromium_cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
        turns = page.evaluate("benchTurns")
        states = page.evaluate("benchStates")
        page.click("#hang-up")
    finally:
        context.close()
    if not turns:
        raise RuntimeError(f"no answer in the browser call: states {states}")
    thinking = [t for t, s in states if s == "thinking"][-1]
    speaking = next(t for t, s in states if s == "speaking" and t > thinking)
    return {
        **_turn(turns[-1]),
        "thinkingToSpeakingS": round((speaking - thinking) / 1000, 3),
        "chromiumCpuCores": round(cpu, 2),
    }


def wait_state(page: Any, state: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(f"benchStates.some(([, s]) => s === {json.dumps(state)})"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the avatar never became {state}")


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k in rows[0] if isinstance(rows[0][k], int | float)]
    return {k: round(statistics.median(float(r[k]) for r in rows), 3) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    samples, rate = question_audio()
    with tempfile.TemporaryDirectory() as scratch:
        microphone = Path(scratch) / "question.wav"
        speech = resample(samples, rate, MIC_RATE)
        silence = np.zeros(MIC_RATE // 2, dtype=np.float32)
        microphone.write_bytes(wav_bytes(np.concatenate([silence, speech, silence]), MIC_RATE))
        with running_server({"OPENCHARACTERS_PRELOAD_ENGINES": "true"}) as (base, _pid):
            avatar_id = create_avatar(base)
            cli = [asyncio.run(cli_run(base, avatar_id, (samples, rate))) for _ in range(args.runs)]
            with launch_chromium(microphone) as browser:
                web = [browser_run(base, avatar_id, microphone, browser) for _ in range(args.runs)]
    result = {
        "question": QUESTION,
        "questionSeconds": round(len(samples) / rate, 2),
        "cli": {"runs": cli, "median": summary(cli)},
        "browser": {"runs": web, "median": summary(web)},
        "loadAverage": load_average(),
        "chromium": subprocess.run(
            ["/usr/bin/chromium", "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }
    print(json.dumps({k: result[k] for k in ("cli", "browser")}, indent=2))
    write_results("portal_latency", result)


if __name__ == "__main__":
    main()
