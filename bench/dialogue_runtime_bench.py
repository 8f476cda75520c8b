"""The two embedded dialogue runtimes on the packaged 0.5B, stage by stage, interleaved.

Per round and runtime (the order alternates): the chat template and token count of a turn's
prompt, the act-or-talk probability (routing prompt cached), the first text of a reply under no
grammar and under the tools' grammar (persona cached, the routing prompt used the model in
between, as in a live turn), and the reply's rate. bench/dialogue_bench.py scores whole turns;
this one isolates where the time goes.

    .venv/bin/python bench/dialogue_runtime_bench.py --rounds 8
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
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.prompt import system_prompt
from opencharacters.dialogue.tools import ToolSpec
from opencharacters.engine_settings import DialogueSettings

SHOW = ToolSpec(
    "client_event",
    "show_product",
    "Show a product on the caller's screen",
    ({"name": "product", "type": "string", "description": "which", "enum": ["tent", "boots"]},),
)
PERSONA = system_prompt(
    "You are Mia, the receptionist of Sunrise Dental Clinic. The clinic is open Monday to "
    "Friday, 9am to 5pm. You help callers book, move or cancel appointments. " * 4
)
STAGES = ("template_ms", "tokenize_ms", "probability_ms", "first_text_ms", "first_text_grammar_ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = ensure_asset("qwen2.5-coder-0.5b")
    models = {
        runtime: embedded_dialogue_model(path, DialogueSettings(runtime=runtime, temperature=0.0))
        for runtime in ("xllamacpp", "llama-cpp-python")
    }
    found: dict[str, dict[str, list[float]]] = {
        runtime: {stage: [] for stage in (*STAGES, "pieces_per_s")} for runtime in models
    }
    for model in models.values():  # persona and routing prompt read once, as in a session
        await model.prepare(PERSONA)
        await model.call_probability("Hello!", [SHOW])
    for round_ in range(args.rounds):
        order = list(models.items())
        for runtime, model in order if round_ % 2 == 0 else order[::-1]:
            out = found[runtime]
            persona = await model.prepare(PERSONA)
            words = f"Hello, can I book a cleaning on the {round_ + 1}th?"
            messages: list[ChatMessage] = [
                {"role": "system", "content": PERSONA},
                {"role": "user", "content": words},
            ]
            started = time.perf_counter()
            text = model.render(messages)
            out["template_ms"].append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            model.tokenize(text)
            out["tokenize_ms"].append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            await model.call_probability(words, [SHOW])
            out["probability_ms"].append(1000 * (time.perf_counter() - started))
            for stage, tools, budget in (
                ("first_text_ms", (), 30),
                ("first_text_grammar_ms", (SHOW,), 3),
            ):
                started = time.perf_counter()
                first: float | None = None
                pieces = 0
                async for _ in model.stream(persona, messages, budget, tools):
                    pieces += 1
                    if first is None:
                        first = time.perf_counter() - started
                assert first is not None
                out[stage].append(1000 * first)
                if not tools and pieces > 1:
                    span = time.perf_counter() - started - first
                    out["pieces_per_s"].append((pieces - 1) / span)
    summary: dict[str, Any] = {
        runtime: {stage: round(statistics.median(v), 1) for stage, v in values.items()}
        for runtime, values in found.items()
    }
    for runtime, figures in summary.items():
        print(runtime, figures)
    write_results(
        "dialogue_runtime",
        {"load_average": load_average(), "rounds": args.rounds, "summary": summary},
    )


if __name__ == "__main__":
    asyncio.run(main())
