"""Which brain: the packaged dialogue models (and combinations) on the evaluation set in
bench/dialogue_eval/ (4 personas, 52 caller turns), through the product's own dialogue path.

Every turn goes through what a live call runs: `Conversation` (persona prompt and its cached
prefix, history, the spoken chunker and sentence budget), knowledge passages retrieved from the
persona's documents by the product's index (hybrid BM25 + MiniLM, top-k and token budget from
the settings, the live worker's relevance cut), and, since every persona has actions, the
act-or-talk routing (the model's call probability + the MiniLM closeness to an action, one
threshold) with the call generated under the tools' grammar. Only the instrument is the bench's:
a pass-through wrapper that timestamps the model's text deltas.

Scored per turn (see bench/dialogue_eval/README.md):
- facts: every fact group present in what is spoken, and nothing marked wrong;
- in character: no talk of language models, code, or the instructions;
- brief: what is spoken is at most 40 words (the product cuts replies at 3 sentences);
- no Markdown: the raw model output has nothing the spoken filter must remove;
- act or talk: an action called exactly when the caller asked for one (and the right one, with
  the right arguments), plus the AUC of the routing score over all turns;
- first word: from the turn's start (after retrieval, which the live worker also does first) to
  the model's first text (includes the act-or-talk decision); tokens/s of the spoken reply.

Configurations are interleaved per turn (the order rotates), so each sees the same load.

    .venv/bin/python bench/dialogue_bench.py                    # all configurations
    .venv/bin/python bench/dialogue_bench.py --limit 8 --configs 0.5B,1.5B
    .venv/bin/python bench/dialogue_bench.py --configs 0.5B --runtimes xllamacpp,llama-cpp-python

With several runtimes, every configuration runs on each (interleaved like the rest), and the
act-or-talk probabilities of the same configuration on two runtimes are compared turn by turn
(mean difference, and how often the routing decision is the same).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import load_average, write_results
from opencharacters.assets import ensure_asset
from opencharacters.dialogue.backend import DialogueModel, PreparedPersona
from opencharacters.dialogue.conversation import Conversation, ReplyRecord
from opencharacters.dialogue.engines import EmbeddedDialogueModel, embedded_dialogue_model
from opencharacters.dialogue.knowledge.embedding import Embedder, load_embedder
from opencharacters.dialogue.knowledge.index import KnowledgeIndex, SourceDocument, build_index
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.routing import ActionRouter
from opencharacters.dialogue.split_model import SplitDialogueModel
from opencharacters.dialogue.spoken import has_markup
from opencharacters.dialogue.tools import ToolCall, ToolOutcome, ToolSpec, parse_tools
from opencharacters.engine.live.worker import RELEVANT_SHARE
from opencharacters.engine_settings import DialogueSettings, EngineSettings

EVAL = Path(__file__).parent / "dialogue_eval"
BRIEF_WORDS = 40
# Saying "I'm a virtual assistant" when asked is allowed (the rules ask for it); talking like a
# chatbot product, writing code or reading the instructions back is not.
OUT_OF_CHARACTER = re.compile(
    r"language model|\bas an ai\b|qwen|alibaba|openai|```|\bdef |\bimport |how you speak|"
    r"these instructions|my instructions|system prompt|first person|in character|read aloud|"
    r"here's an example|here is an example|implementation",
    re.IGNORECASE,
)


@dataclass
class Persona:
    id: str
    personality: str
    tools: list[ToolSpec]
    index: KnowledgeIndex
    router: ActionRouter | None
    items: list[dict[str, Any]]


@dataclass
class Probe:
    """Passes everything to the model; timestamps the text deltas of each reply."""

    model: Any
    deltas: list[tuple[float, str]] = field(default_factory=list)
    probability: float | None = None
    """The model's own act-or-talk probability (the routing score adds the closeness)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def action_chooser(self) -> Probe | None:
        """Chooses through the model's own chooser, noting its probability on the way."""
        return self if self.model.action_chooser() is not None else None

    async def call_probability(self, user_text: str, tools: Sequence[ToolSpec]) -> float:
        probability: float = await self.model.action_chooser().call_probability(user_text, tools)
        self.probability = probability
        return probability

    async def generate_call(self, user_text: str, tools: Sequence[ToolSpec]) -> ToolCall | None:
        call: ToolCall | None = await self.model.action_chooser().generate_call(user_text, tools)
        return call

    async def prepare(self, system_prompt: str) -> PreparedPersona:
        persona: PreparedPersona = await self.model.prepare(system_prompt)
        return persona

    async def stream(
        self,
        persona: PreparedPersona,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
    ) -> AsyncIterator[str]:
        inner = self.model.stream(
            persona, messages, max_tokens, tools, speech_only=speech_only, temperature=temperature
        )
        try:
            async for delta in inner:
                self.deltas.append((time.perf_counter(), delta))
                yield delta
        finally:
            await inner.aclose()


def load_personas(embedder: Embedder | None) -> list[Persona]:
    personas = []
    for path in sorted(EVAL.glob("*.json")):
        data = json.loads(path.read_text())
        documents = [
            SourceDocument(f"{data['id']}-{n}", doc["name"], doc["content"])
            for n, doc in enumerate(data["documents"])
        ]
        tools = parse_tools(data["tools"])
        router = ActionRouter(embedder, tools) if embedder is not None else None
        personas.append(
            Persona(
                data["id"],
                data["personality"],
                tools,
                build_index(documents, embedder),
                router,
                data["items"],
            )
        )
    return personas


async def passages_for(persona: Persona, text: str, settings: EngineSettings) -> list[Any]:
    """What the live worker gives the model: top-k within the token budget, minus passages far
    behind the best one (engine/live/worker.py, RELEVANT_SHARE)."""
    k = settings.knowledge
    found = await asyncio.to_thread(persona.index.search, text, k.top_k, k.token_budget)
    best = max((p.score for p in found), default=0.0)
    return [p for p in found if p.score >= RELEVANT_SHARE * best]


async def run_turn(
    model: DialogueModel, persona: Persona, item: dict[str, Any], settings: EngineSettings
) -> dict[str, Any]:
    probe = Probe(model)
    conversation = Conversation(
        probe, persona.personality, settings.dialogue, tools=persona.tools, router=persona.router
    )
    await conversation.prepare()  # cached per persona after the first (as for a new session)
    for said, answered in item.get("history", []):
        conversation.record_turn(said, ReplyRecord(produced=[answered]))
    calls: list[ToolCall] = []

    async def run_tool(call: ToolCall) -> ToolOutcome:
        calls.append(call)
        result = {"status": "event_sent"} if call.name != "buy_tickets" else {"total": 45}
        return ToolOutcome(result=result, duration_ms=1.0)

    passages = await passages_for(persona, item["say"], settings)
    started = time.perf_counter()
    first_chunk: float | None = None
    chunks: list[str] = []
    async for chunk in conversation.reply(item["say"], passages, run_tool=run_tool):
        if first_chunk is None:
            first_chunk = time.perf_counter() - started
        chunks.append(chunk)
    spoken = " ".join(chunks)
    raw = "".join(delta for _, delta in probe.deltas)
    first_word = probe.deltas[0][0] - started if probe.deltas else None
    rate = None
    if len(probe.deltas) > 2:
        talker = model.talker if isinstance(model, SplitDialogueModel) else model
        tokens = len(talker.tokenize(raw)) if hasattr(talker, "tokenize") else 0
        span = probe.deltas[-1][0] - probe.deltas[0][0]
        rate = (tokens - 1) / span if span > 0 and tokens > 1 else None
    return {
        "persona": persona.id,
        "say": item["say"],
        "passages": len(passages),
        "spoken": spoken,
        "raw": raw,
        "calls": [{"name": c.name, "arguments": c.arguments} for c in calls],
        "action_score": conversation.last_action_score,
        "call_probability": probe.probability,
        "first_word_s": first_word,
        "first_chunk_s": first_chunk,
        "tokens_per_s": rate,
        **judge(item, spoken, raw, calls),
    }


def judge(item: dict[str, Any], spoken: str, raw: str, calls: list[ToolCall]) -> dict[str, Any]:
    heard = spoken.lower()
    facts = None
    if "facts" in item:
        facts = all(any(alt in heard for alt in group) for group in item["facts"]) and not any(
            bad in heard for bad in item.get("wrong", [])
        )
    expect_act = item.get("expect") == "act"
    acted = bool(calls)
    right_call = None
    if expect_act:
        right_call = acted and calls[0].name == item["tool"]
        wanted = item.get("arguments")
        if right_call and wanted is not None:
            got = {k: str(v).lower() for k, v in calls[0].arguments.items()}
            right_call = got == {k: str(v).lower() for k, v in wanted.items()}
    return {
        "facts_ok": facts,
        "in_character": not OUT_OF_CHARACTER.search(spoken) and not OUT_OF_CHARACTER.search(raw),
        "brief": 0 < len(spoken.split()) <= BRIEF_WORDS,
        "no_markdown": not has_markup(raw),
        "expect_act": expect_act,
        "act_right": acted == expect_act,
        "right_call": right_call,
        "words": len(spoken.split()),
    }


def auc(scores: list[float], labels: list[bool]) -> float | None:
    """Probability that a request scores above a non-request (ties count half)."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def best_threshold(scores: list[float], labels: list[bool]) -> tuple[float, int] | None:
    """The threshold that would have decided most turns right, and how many."""
    if not scores:
        return None
    candidates = sorted(set(scores))
    right = [
        (sum((s >= t) == y for s, y in zip(scores, labels, strict=True)), t) for t in candidates
    ]
    count, threshold = max(right)
    return round(threshold, 3), count


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(turns: list[dict[str, Any]]) -> dict[str, Any]:
    def count(key: str) -> tuple[int, int]:
        values = [t[key] for t in turns if t[key] is not None]
        return sum(bool(v) for v in values), len(values)

    scored = [t for t in turns if t["action_score"] is not None]
    labels = [t["expect_act"] for t in scored]
    first_words = [t["first_word_s"] for t in turns if t["first_word_s"] is not None]
    rates = [t["tokens_per_s"] for t in turns if t["tokens_per_s"] is not None]
    return {
        "facts": count("facts_ok"),
        "in_character": count("in_character"),
        "brief": count("brief"),
        "no_markdown": count("no_markdown"),
        "act_or_talk": count("act_right"),
        "right_call": count("right_call"),
        "routing_auc": auc([t["action_score"] for t in scored], labels),
        "probability_auc": auc([t["call_probability"] for t in scored], labels),
        "best_threshold": best_threshold([t["action_score"] for t in scored], labels),
        "first_word_p50_s": statistics.median(first_words) if first_words else None,
        "first_word_p90_s": percentile(first_words, 0.9),
        "tokens_per_s_median": statistics.median(rates) if rates else None,
        "words_median": statistics.median(t["words"] for t in turns),
    }


def table(summaries: dict[str, dict[str, Any]]) -> str:
    def frac(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]}"

    def num(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        "| configuration | facts | in character | brief | no Markdown | act or talk | right "
        "call | routing AUC (probability alone) | first word p50 / p90 (s) | tokens/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {name} | {frac(s['facts'])} | {frac(s['in_character'])} | {frac(s['brief'])} | "
            f"{frac(s['no_markdown'])} | {frac(s['act_or_talk'])} | {frac(s['right_call'])} | "
            f"{num(s['routing_auc'])} ({num(s['probability_auc'])}) | "
            f"{num(s['first_word_p50_s'])} / "
            f"{num(s['first_word_p90_s'])} | {num(s['tokens_per_s_median'], 1)} |"
        )
    return "\n".join(lines)


RUNTIMES = ("xllamacpp", "llama-cpp-python")


def build_configs(
    settings: EngineSettings, wanted: list[str], runtimes: list[str]
) -> dict[str, DialogueModel]:
    configs: dict[str, DialogueModel] = {}
    loaded: dict[str, EmbeddedDialogueModel] = {}

    def model(name: str, dialogue: DialogueSettings) -> EmbeddedDialogueModel:
        key = f"{name}:{dialogue.runtime}"
        if key not in loaded:  # each GGUF loaded once per runtime, only when used
            loaded[key] = embedded_dialogue_model(ensure_asset(name, settings), dialogue)
        return loaded[key]

    for runtime in runtimes:
        dialogue = DialogueSettings.model_validate(
            {**settings.dialogue.model_dump(), "runtime": runtime}
        )
        for name in wanted:
            label = name if len(runtimes) == 1 else f"{name} · {runtime}"
            if name == "0.5B":
                configs[label] = model("qwen2.5-coder-0.5b", dialogue)
            elif name == "1.5B":
                configs[label] = model("qwen2.5-coder-1.5b", dialogue)
            elif name == "0.5B talks + 1.5B decides":
                configs[label] = SplitDialogueModel(
                    model("qwen2.5-coder-0.5b", dialogue), model("qwen2.5-coder-1.5b", dialogue)
                )
            else:
                raise SystemExit(f"unknown configuration {name!r}")
    return configs


def runtime_agreement(
    turns: dict[str, list[dict[str, Any]]], threshold: float
) -> dict[str, dict[str, Any]]:
    """The same configuration on two runtimes: how close their act-or-talk probabilities are
    (turn by turn: same prompt, same position in the interleaving) and how often the routing
    score lands on the same side of the threshold."""
    found: dict[str, dict[str, Any]] = {}
    names = list(turns)
    for a in names:
        for b in names:
            if a >= b or a.split(" · ")[0] != b.split(" · ")[0]:
                continue
            pairs = [
                (x, y)
                for x, y in zip(turns[a], turns[b], strict=True)
                if x["call_probability"] is not None and y["call_probability"] is not None
            ]
            if not pairs:
                continue
            differences = [abs(x["call_probability"] - y["call_probability"]) for x, y in pairs]
            same = sum(
                (x["action_score"] >= threshold) == (y["action_score"] >= threshold)
                for x, y in pairs
            )
            found[f"{a} vs {b}"] = {
                "turns": len(pairs),
                "probability_mean_abs_difference": round(statistics.mean(differences), 4),
                "probability_max_abs_difference": round(max(differences), 4),
                "same_routing_decision": f"{same}/{len(pairs)}",
                "same_call": sum(x["calls"] == y["calls"] for x, y in pairs),
            }
    return found


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="turns per persona")
    parser.add_argument("--configs", default="0.5B,1.5B,0.5B talks + 1.5B decides")
    parser.add_argument(
        "--runtimes",
        default="xllamacpp",
        help=f"comma-separated, of {', '.join(RUNTIMES)} (the second needs the llama-cpp extra)",
    )
    args = parser.parse_args()
    settings = EngineSettings()
    # Each model keeps the 4 personas and their 4 routing prompts evaluated (a live process
    # keeps the ones its sessions use): no configuration pays a persona re-read in a turn.
    settings.dialogue.persona_cache_size = 16
    embedder = load_embedder(settings)
    personas = load_personas(embedder)
    runtimes = [r.strip() for r in args.runtimes.split(",")]
    configs = build_configs(settings, [c.strip() for c in args.configs.split(",")], runtimes)
    names = list(configs)
    turns: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    plan = [(p, item) for p in personas for item in p.items[: args.limit]]
    # A session reads its persona at prepare; the routing prompt (the actions) is read at the
    # first turn that needs it. Both are read here first, so every measured turn is a later
    # turn of a session (the first turn's extra cost is reported separately).
    warm: dict[str, dict[str, float]] = {}
    for name, model in configs.items():
        for persona in personas:
            started = time.perf_counter()
            await run_turn(model, persona, {"say": "Hello there!"}, settings)
            warm.setdefault(name, {})[persona.id] = round(time.perf_counter() - started, 2)
    print("first turn of each persona (persona + routing prompt read), s:", warm)
    print(f"{len(plan)} turns x {len(names)} configurations, interleaved")
    for i, (persona, item) in enumerate(plan):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            turn = await run_turn(configs[name], persona, item, settings)
            turns[name].append(turn)
            verdict = "".join(
                flag
                for flag, ok in (
                    ("F", turn["facts_ok"] is False),
                    ("C", not turn["in_character"]),
                    ("B", not turn["brief"]),
                    ("M", not turn["no_markdown"]),
                    ("A", not turn["act_right"]),
                )
                if ok
            )
            score = turn["action_score"]
            print(
                f"[{name:>24}] {persona.id:9} {verdict or 'ok':4} "
                f"score={score if score is None else round(score, 2)} "
                f"fw={turn['first_word_s'] and round(turn['first_word_s'], 2)} "
                f"{item['say'][:40]!r} -> {turn['spoken'][:90]!r} {turn['calls'] or ''}"
            )
    summaries = {name: summarize(turns[name]) for name in names}
    print(table(summaries))
    agreement = runtime_agreement(turns, settings.dialogue.tool_call_threshold)
    for pair, figures in agreement.items():
        print(pair, figures)
    write_results(
        "dialogue",
        {
            "settings": settings.dialogue.model_dump(mode="json"),
            "load_average": load_average(),
            "first_turn_s": warm,
            "summary": summaries,
            "table": table(summaries),
            "runtime_agreement": agreement,
            "turns": turns,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
