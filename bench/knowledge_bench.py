"""Knowledge retrieval: quality, latency at 50,000 tokens, and the dialogue context budget.

- Quality: top-1 and top-3 hit rate of the expected FAQ passage on two paraphrased question sets
  over bench/data/store_faq.md (a 28 kB store FAQ): the tuning set (60 questions, used to choose
  the fusion and the similarity floor) and the held-out set (42 questions, written after the
  method was frozen). Rankers: BM25 alone, embeddings alone, reciprocal rank fusion, and the
  hybrid the server uses; embedders: all-MiniLM-L6-v2 (onnxruntime) and a static model2vec-style
  distillation of the same MiniLM (256-d, computed here without torch; cached in bench/results).
- Latency: a 50,000-token knowledge base (the FAQ and variants of it), index build time cold and
  with cached vectors, and per-turn search time (query embedding + BM25 + fusion), p50/p95.
- Budget: tokens of the passages a turn adds, counted by our rule and by the dialogue model's
  tokenizer when its GGUF is in the model cache, against n_ctx with a 10,000-character persona.

- Answers (--answers N): the embedded dialogue model answers N held-out questions from the
  passages, as in a call; a pass is a reply that contains the question's fact.

    PYTHONPATH=src .venv/bin/python bench/knowledge_bench.py [--no-static] [--latency-only]
        [--repeat 3] [--answers N]

Timings depend on what else the machine runs: the table prints the load average, compare runs
only at similar load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import RESULTS, load_average, write_results
from opencharacters.dialogue.knowledge.embedding import Embedder, MiniLMEmbedder, Vectors
from opencharacters.dialogue.knowledge.index import (
    KnowledgeIndex,
    Method,
    SourceDocument,
    VectorCache,
    build_index,
)
from opencharacters.dialogue.prompt import SPOKEN_RULES
from opencharacters.domain.knowledge import MAX_AVATAR_KNOWLEDGE_TOKENS, count_tokens
from opencharacters.engine_settings import EngineSettings

DATA = Path(__file__).parent / "data"
FAQ = DATA / "store_faq.md"
QUESTION_SETS = {
    "tuning": DATA / "store_faq_questions.json",
    "held-out": DATA / "store_faq_questions_heldout.json",
}
METHODS: tuple[Method, ...] = ("bm25", "embedding", "rrf", "hybrid")


class StaticEmbedder:
    """model2vec's recipe without torch: every word piece of MiniLM's vocabulary embedded alone
    ([CLS] piece [SEP]) by the real model, reduced to 256 dimensions by PCA, weighted down for
    frequent pieces (SIF weights over a Zipf law on the vocabulary order); a text is the mean of
    its pieces' vectors."""

    name = "static-minilm-256"
    dim = 256

    def __init__(self, model_dir: Path, minilm: MiniLMEmbedder) -> None:
        from tokenizers import Tokenizer

        cache = RESULTS / "static_minilm_256.npy"
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        if cache.exists():
            self._table = np.load(cache)
            self.distill_s = 0.0
            return
        started = time.perf_counter()
        vocab = self._tokenizer.get_vocab_size()
        cls, sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        ids = np.stack([np.full(vocab, cls), np.arange(vocab), np.full(vocab, sep)], axis=1).astype(
            np.int64
        )
        mask = np.ones_like(ids)
        rows = []
        for start in range(0, vocab, 1024):
            (out,) = minilm._session.run(
                None,
                {
                    "input_ids": ids[start : start + 1024],
                    "attention_mask": mask[start : start + 1024],
                },
            )
            rows.append(out)
        table = np.concatenate(rows)
        table -= table.mean(axis=0)
        _, _, components = np.linalg.svd(table, full_matrices=False)
        table = table @ components[: self.dim].T
        rank = np.arange(1, vocab + 1, dtype=np.float64)
        probability = (1 / rank) / np.sum(1 / rank)
        sif = 1e-4 / (1e-4 + probability)
        self._table = (table * sif[:, None]).astype(np.float32)
        RESULTS.mkdir(parents=True, exist_ok=True)
        np.save(cache, self._table)
        self.distill_s = time.perf_counter() - started

    def encode(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, encoding in enumerate(
            self._tokenizer.encode_batch(texts, add_special_tokens=False)
        ):
            if encoding.ids:
                vector = self._table[encoding.ids].mean(axis=0)
                out[row] = vector / max(float(np.linalg.norm(vector)), 1e-9)
        return out


def load_questions() -> dict[str, list[dict[str, Any]]]:
    return {name: json.loads(path.read_text()) for name, path in QUESTION_SETS.items()}


def hit_rates(
    index: KnowledgeIndex, questions: list[dict[str, Any]], method: Method
) -> tuple[float, float, list[str]]:
    top1 = top3 = 0
    misses = []
    for question in questions:
        found = index.search(question["q"], k=3, method=method)
        heads = [p.headings[-1] if p.headings else "" for p in found]
        if heads and heads[0] in question["expect"]:
            top1 += 1
        if any(h in question["expect"] for h in heads):
            top3 += 1
        else:
            misses.append(question["q"])
    n = len(questions)
    return top1 / n, top3 / n, misses


def fifty_thousand_tokens(faq: str) -> list[SourceDocument]:
    """The FAQ and variants (another shop name, other numbers) up to just under 50,000 tokens:
    as many distinct chunks as a full knowledge base, none of them cached twice."""
    documents = [SourceDocument("doc-0", "Store FAQ", faq)]
    total = count_tokens(faq)
    shops = ["Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Gum", "Hazel", "Ivy"]
    for n, shop in enumerate(shops, start=1):
        variant = faq.replace("Fernhill", f"{shop}brook")
        variant = re.sub(r"\d+", lambda m, n=n: str(int(m.group(0)) + n), variant)
        tokens = count_tokens(variant)
        if total + tokens > MAX_AVATAR_KNOWLEDGE_TOKENS:
            remaining = MAX_AVATAR_KNOWLEDGE_TOKENS - total
            variant = variant[: int(len(variant) * remaining / tokens * 0.98)]
            tokens = count_tokens(variant)
        documents.append(SourceDocument(f"doc-{n}", f"{shop}brook FAQ", variant))
        total += tokens
        if total >= MAX_AVATAR_KNOWLEDGE_TOKENS * 0.97:
            break
    return documents


async def turn_latency(
    documents: list[SourceDocument],
    embedder: Embedder,
    cache: VectorCache,
    questions: list[str],
    settings: EngineSettings,
    repeat: int,
) -> dict[str, list[float]]:
    """Per-turn times in ms, interleaved per question so every step sees the same machine load:
    the hybrid search alone, its query embedding, BM25 alone, and KnowledgeBase.search as the
    live worker calls it (a SQLite query checking the avatar's documents, then the search, in a
    worker thread)."""
    import tempfile
    import uuid

    from opencharacters.dialogue.knowledge.service import KnowledgeBase
    from opencharacters.domain.timefmt import utcnow
    from opencharacters.store.accounts import get_or_create_org
    from opencharacters.store.avatars import set_documents
    from opencharacters.store.db import Database
    from opencharacters.store.tables import Avatar, Document

    k, budget = settings.knowledge.top_k, settings.knowledge.token_budget
    timings: dict[str, list[float]] = {"search": [], "embed": [], "bm25": [], "service": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        now = utcnow()
        with db.session() as s:
            org = get_or_create_org(s, "bench").id
            ids = []
            for d in documents:
                ids.append(str(uuid.uuid4()))
                s.add(
                    Document(
                        id=ids[-1],
                        organization_id=org,
                        name=d.name,
                        type="text",
                        content=d.content,
                        created_at=now,
                        updated_at=now,
                    )
                )
            avatar = Avatar(
                id=str(uuid.uuid4()),
                organization_id=org,
                name="Bench",
                personality="p",
                voice={"type": "runway-live-preset", "presetId": "clara"},
                image_processing="optimize",
                status="READY",
                image_generation=1,
                created_at=now,
                updated_at=now,
            )
            s.add(avatar)
            s.flush()
            set_documents(s, avatar, ids)
            avatar_id = avatar.id
        kb = KnowledgeBase(db, settings, embedder=embedder, vector_cache=cache)
        index = await kb.index_for_avatar(avatar_id)
        for q in questions[:5]:  # warm-up
            await kb.search(avatar_id, q)
        for _ in range(repeat):
            for q in questions:
                t0 = time.perf_counter()
                index.search(q, k=k, token_budget=budget)
                timings["search"].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                embedder.encode([q])
                timings["embed"].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                index.search(q, k=k, token_budget=budget, method="bm25")
                timings["bm25"].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await kb.search(avatar_id, q)
                timings["service"].append((time.perf_counter() - t0) * 1000)
        await kb.stop()
        db.dispose()
    return timings


def contains_fact(reply: str, fact: str) -> bool:
    """Every number of the fact, or when it has none at least half of its longer words (stems
    of five letters), appears in the reply."""
    said = reply.lower().replace(",", "")
    fact = fact.replace("*", "").lower().replace(",", "")
    numbers = re.findall(r"\d+(?:\.\d+)?", fact)
    if numbers:
        return all(re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", said) for n in numbers)
    words = [w[:5] for w in re.findall(r"[a-z]+", fact) if len(w) > 3]
    return bool(words) and sum(w in said for w in words) * 2 >= len(words)


async def spoken_answers(
    index: KnowledgeIndex, questions: list[dict[str, Any]], settings: EngineSettings
) -> dict[str, Any]:
    """The dialogue model answers each question from the retrieved passages, as in a call; a
    pass is an answer that contains the question's fact (numbers and key words)."""
    from opencharacters.dialogue.conversation import Conversation
    from opencharacters.dialogue.engines import load_dialogue_model

    model = load_dialogue_model(settings)
    persona = (
        "You are Sam, the friendly phone support agent of Fernhill Home & Garden, a furniture "
        "and home goods store. Answer callers' questions from the store's notes."
    )
    passed = 0
    rows = []
    print(f"\nSpoken answers from the passages ({len(questions)} held-out questions)")
    for question in questions:
        passages = index.search(
            question["q"], k=settings.knowledge.top_k, token_budget=settings.knowledge.token_budget
        )
        conversation = Conversation(model, persona, settings.dialogue)
        await conversation.prepare()
        started = time.perf_counter()
        reply = " ".join([chunk async for chunk in conversation.reply(question["q"], passages)])
        seconds = time.perf_counter() - started
        ok = contains_fact(reply, question["fact"])
        passed += ok
        rows.append(
            {
                "q": question["q"],
                "reply": reply,
                "fact": question["fact"],
                "ok": ok,
                "seconds": seconds,
            }
        )
        print(f"{'ok ' if ok else 'NO '} {seconds:4.1f} s  {question['q']}\n      -> {reply}")
    print(f"answers containing the fact: {passed}/{len(questions)}")
    return {"passed": passed, "n": len(questions), "rows": rows}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def qwen_tokenizer(settings: EngineSettings) -> Any | None:
    """The dialogue model's tokenizer (vocabulary only), when the GGUF is already assembled."""
    from opencharacters.assets import QWEN_05B, asset_status, ensure_asset

    if asset_status(QWEN_05B, settings).state != "ready":
        return None
    from llama_cpp import Llama

    path = ensure_asset(QWEN_05B.name, settings)
    return Llama(model_path=str(path), vocab_only=True, verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-static", action="store_true", help="skip the static embedder")
    parser.add_argument(
        "--latency-only", action="store_true", help="skip the quality tables (and the static one)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="latency passes over the questions")
    parser.add_argument(
        "--answers",
        type=int,
        default=0,
        metavar="N",
        help="also let the dialogue model answer N held-out questions from the passages",
    )
    args = parser.parse_args()
    settings = EngineSettings()
    from opencharacters.assets import ensure_asset

    faq = FAQ.read_text()
    questions = load_questions()
    started = time.perf_counter()
    model_dir = ensure_asset("all-minilm-l6-v2", settings).parent
    minilm = MiniLMEmbedder(model_dir, threads=1)
    minilm_load_s = time.perf_counter() - started
    embedders: dict[str, Embedder] = {"minilm": minilm}
    static_s = None
    if not (args.no_static or args.latency_only):
        static = StaticEmbedder(model_dir, minilm)
        embedders["static"] = static
        static_s = static.distill_s

    # --- quality ---
    quality: dict[str, Any] = {}
    print(
        f"\nTop-k hit rate of the expected passage (FAQ {len(faq):,} chars, "
        f"{count_tokens(faq):,} tokens)"
    )
    print(
        f"{'embedder':8} {'method':10}"
        + "".join(f" {name + ' top1':>14} {name + ' top3':>14}" for name in questions)
    )
    for embedder_name, embedder in embedders.items() if not args.latency_only else ():
        index = build_index([SourceDocument("faq", "Store FAQ", faq)], embedder)
        for method in METHODS:
            if method == "bm25" and embedder_name != "minilm":
                continue
            row: dict[str, Any] = {}
            line = f"{embedder_name if method != 'bm25' else '-':8} {method:10}"
            for set_name, qs in questions.items():
                top1, top3, misses = hit_rates(index, qs, method)
                row[set_name] = {"top1": top1, "top3": top3, "n": len(qs), "misses": misses}
                line += f" {top1:14.1%} {top3:14.1%}"
            quality[f"{embedder_name}/{method}" if method != "bm25" else "bm25"] = row
            print(line)

    # --- latency at 50,000 tokens ---
    documents = fifty_thousand_tokens(faq)
    total_tokens = sum(count_tokens(d.content) for d in documents)
    cache = VectorCache()
    index = build_index(documents, minilm, vector_cache=cache)
    cold = index.stats
    warm = build_index(documents, minilm, vector_cache=cache).stats
    all_questions = [q["q"] for qs in questions.values() for q in qs]
    budget = settings.knowledge.token_budget
    timings = asyncio.run(
        turn_latency(documents, minilm, cache, all_questions, settings, args.repeat)
    )
    latency = {
        name: {
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "max_ms": max(values),
            "n": len(values),
        }
        for name, values in timings.items()
    }
    print(
        f"\nPer-turn retrieval over {total_tokens:,} tokens in {len(documents)} documents "
        f"({cold.chunks} chunks), onnxruntime 1 thread, load average {load_average():.2f}"
    )
    print(f"{'step':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    labels = {
        "search": "hybrid search",
        "embed": "  of which query embedding",
        "bm25": "BM25 alone",
        "service": "KnowledgeBase.search",
    }
    for name, stats in latency.items():
        print(
            f"{labels[name]:28} {stats['p50_ms']:8.2f} {stats['p95_ms']:8.2f} "
            f"{stats['max_ms']:8.2f}"
        )
    print(
        f"index build: cold {cold.seconds:.1f} s ({cold.embedded} texts embedded), "
        f"cached vectors {warm.seconds:.2f} s; MiniLM load {minilm_load_s:.2f} s"
        + (f"; static distillation {static_s:.1f} s" if static_s else "")
    )
    print(
        "(KnowledgeBase.search is the whole turn as the live worker pays it: a SQLite query "
        "checking the avatar's documents, then the hybrid search, in a worker thread)"
    )
    static_latency = None
    if "static" in embedders:
        static_index = build_index(documents, embedders["static"])
        values = []
        for q in all_questions:
            t0 = time.perf_counter()
            static_index.search(q, k=3, token_budget=budget)
            values.append((time.perf_counter() - t0) * 1000)
        static_latency = {
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "build_s": static_index.stats.seconds,
        }
        print(
            f"static embedder: build {static_index.stats.seconds:.1f} s, search p50 "
            f"{static_latency['p50_ms']:.2f} ms, p95 {static_latency['p95_ms']:.2f} ms"
        )

    # --- context budget ---
    faq_index = build_index([SourceDocument("faq", "Store FAQ", faq)], minilm)
    notes_ours, notes_model = [], []
    llm = qwen_tokenizer(settings)
    for q in all_questions:
        passages = faq_index.search(q, k=settings.knowledge.top_k, token_budget=budget)
        text = "\n".join(f"- {p.as_note()}" for p in passages)
        notes_ours.append(sum(p.tokens for p in passages))
        if llm is not None:
            notes_model.append(len(llm.tokenize(text.encode(), add_bos=False)))
    dialogue = settings.dialogue
    persona = ("You are Mia, the support agent of Fernhill Home & Garden. " * 200)[:10_000]
    persona_tokens = count_tokens(persona + SPOKEN_RULES)
    if llm is not None:
        persona_tokens = len(
            llm.tokenize((persona + "\n\n" + SPOKEN_RULES).encode(), add_bos=False)
        )
    per_turn_overhead = 8  # chat-template tokens around each message
    history = dialogue.history_turns * (dialogue.max_reply_tokens + 40 + 2 * per_turn_overhead)
    knowledge_max = max(notes_model or notes_ours)
    need = persona_tokens + history + knowledge_max + 20 + dialogue.max_reply_tokens
    print(
        f"\nContext budget (n_ctx {dialogue.n_ctx}): persona of 10,000 chars + rules "
        f"{persona_tokens} tokens, {dialogue.history_turns} turns of history <= {history}, "
        f"passages per turn (top {settings.knowledge.top_k}, budget {budget}): mean "
        f"{statistics.mean(notes_ours):.0f} / max {max(notes_ours)} by our count"
        + (
            f", mean {statistics.mean(notes_model):.0f} / max {max(notes_model)} by the "
            "model's tokenizer"
            if notes_model
            else ""
        )
        + f"; reply {dialogue.max_reply_tokens}: total {need} -> "
        + ("fits" if need <= dialogue.n_ctx else "DOES NOT FIT")
    )
    token_rule = None
    if llm is not None:
        real = len(llm.tokenize(faq.encode(), add_bos=False))
        token_rule = {"faq_ours": count_tokens(faq), "faq_model": real}
        print(
            f"token rule on the FAQ: ours {count_tokens(faq):,}, the model's tokenizer "
            f"{real:,} ({count_tokens(faq) / real - 1:+.1%})"
        )

    answers = None
    if args.answers:
        answers = asyncio.run(
            spoken_answers(faq_index, questions["held-out"][: args.answers], settings)
        )

    write_results(
        "knowledge_bench",
        {
            "quality": quality,
            "latency_50k": {
                "tokens": total_tokens,
                "documents": len(documents),
                "chunks": cold.chunks,
                "build_cold_s": cold.seconds,
                "build_cached_s": warm.seconds,
                "texts_embedded": cold.embedded,
                "minilm_load_s": minilm_load_s,
                **latency,
            },
            "static": static_latency,
            "budget": {
                "n_ctx": dialogue.n_ctx,
                "persona_tokens": persona_tokens,
                "history_tokens": history,
                "passages_ours_mean": statistics.mean(notes_ours),
                "passages_ours_max": max(notes_ours),
                "passages_model_max": max(notes_model) if notes_model else None,
                "needed": need,
            },
            "token_rule": token_rule,
            "answers": answers,
        },
    )


if __name__ == "__main__":
    main()
