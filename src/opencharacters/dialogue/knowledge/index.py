"""One avatar's searchable knowledge: chunks of its documents, a BM25 index over them and their
embeddings, ranked together by reciprocal rank fusion.

An index is immutable and keyed by a fingerprint of its documents (ids, names and content), so an
index built from older content can never be mistaken for the current one."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from opencharacters.dialogue.knowledge.chunking import MAX_TOKENS, TARGET_TOKENS, chunk_document
from opencharacters.dialogue.knowledge.embedding import Embedder, Vectors
from opencharacters.domain.knowledge import count_tokens

SEMANTIC_WEIGHT = 0.85
"""hybrid score = SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * BM25 / best BM25 of the
query. A convex combination: on bench/knowledge_bench.py it beat reciprocal rank fusion, which
gives BM25's weak ranks on paraphrased questions as much say as the embedding's."""
MIN_SIMILARITY = 0.3
"""A passage whose semantic score is below this is not relevant (small talk gets no notes).
On the tuning questions the right passage scored 0.33 or more; greetings, thanks and "can you
hear me" score 0.19-0.25."""
RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al.), for the "rrf" method the bench compares."""
CANDIDATES = 20
"""Ranks each retriever contributes to reciprocal rank fusion."""

Method = Literal["hybrid", "bm25", "embedding", "rrf"]


@dataclass(frozen=True, slots=True)
class SourceDocument:
    id: str
    name: str
    content: str

    @property
    def digest(self) -> str:
        data = f"{self.name}\0{self.content}".encode()
        return hashlib.sha256(data).hexdigest()


def fingerprint(documents: Sequence[SourceDocument]) -> str:
    """Identifies one exact set of documents (order included): the cache key of an index."""
    digest = hashlib.sha256()
    for document in documents:
        digest.update(f"{document.id}:{document.digest};".encode())
    return digest.hexdigest()


_MARKUP = re.compile(r"\*\*|__|`+|^ {0,3}[-*+] +|^ {0,3}>+ ?", re.M)
_TABLE_RULE = re.compile(r"^\|?[-:| ]+\|[-:| ]*$")


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table_as_prose(rows: list[str]) -> str:
    """A Markdown table as "Header: value, Header: value; ..." (one clause per row)."""
    if len(rows) >= 2 and _TABLE_RULE.match(rows[1].strip()):
        header, body = _cells(rows[0]), rows[2:]
        clauses = []
        for row in body:
            pairs = zip(header, _cells(row), strict=False)
            clauses.append(", ".join(f"{h}: {v}" if h else v for h, v in pairs if v))
        return "; ".join(clauses) + "."
    return "; ".join(", ".join(_cells(row)) for row in rows) + "."


def plain_text(markdown: str) -> str:
    """A passage as prose for the dialogue model: no emphasis, bullets or table syntax, one
    line."""
    out: list[str] = []
    table: list[str] = []
    for line in markdown.split("\n"):
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            out.append(_table_as_prose(table))
            table = []
        out.append(line)
    if table:
        out.append(_table_as_prose(table))
    text = _MARKUP.sub("", "\n".join(out))
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved piece of a document."""

    document_id: str
    document_name: str
    headings: tuple[str, ...]
    text: str
    """The Markdown body of the chunk (without its headings)."""
    score: float
    tokens: int
    """Tokens of `as_note()`, the form that goes into the prompt."""

    def as_note(self) -> str:
        """One line for the prompt: where it comes from (document name, the two nearest headings),
        then the text as plain prose."""
        where = self.document_name
        if self.headings:
            where += ", " + " > ".join(self.headings[-2:])
        return f"[{where}] {plain_text(self.text)}"


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    document_id: str
    document_name: str
    headings: tuple[str, ...]
    body: str
    text: str
    note_tokens: int

    def passage(self, score: float) -> Passage:
        return Passage(
            self.document_id, self.document_name, self.headings, self.body, score, self.note_tokens
        )


class VectorCache:
    """Embeddings of chunk texts by content hash, so re-indexing after one document changes only
    embeds that document's new chunks. Thread-safe, least recently used out first."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._max = max_entries
        self._vectors: OrderedDict[str, np.ndarray[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, text: str) -> str:
        return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()

    def embed(self, embedder: Embedder, texts: list[str]) -> tuple[Vectors, int]:
        """The vectors of `texts`, and how many of them had to be computed."""
        keys = [self.key(embedder.name, t) for t in texts]
        found: dict[int, np.ndarray[Any, Any]] = {}
        with self._lock:
            for i, k in enumerate(keys):
                vector = self._vectors.get(k)
                if vector is not None:
                    self._vectors.move_to_end(k)
                    found[i] = vector
        missing = [i for i in range(len(texts)) if i not in found]
        if missing:
            fresh = embedder.encode([texts[i] for i in missing])
            with self._lock:
                for row, i in enumerate(missing):
                    found[i] = fresh[row]
                    self._vectors[keys[i]] = fresh[row]
                while len(self._vectors) > self._max:
                    self._vectors.popitem(last=False)
        out = np.zeros((len(texts), embedder.dim), np.float32)
        for i, vector in found.items():
            out[i] = vector
        return out, len(missing)

    def __len__(self) -> int:
        return len(self._vectors)


class _Terms:
    """BM25 terms: lower-cased words without English stop words, Snowball-stemmed."""

    _WORD = re.compile(r"\w+")

    def __init__(self) -> None:
        from bm25s.stopwords import STOPWORDS_EN_PLUS

        self._stopwords = frozenset(STOPWORDS_EN_PLUS)
        self._local = threading.local()  # PyStemmer objects must not be shared between threads

    def __call__(self, text: str) -> list[str]:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("english")
        words = [w for w in self._WORD.findall(text.lower()) if w not in self._stopwords]
        stems: list[str] = stemmer.stemWords(words)
        return stems


_terms: _Terms | None = None


def terms(text: str) -> list[str]:
    global _terms
    if _terms is None:
        _terms = _Terms()
    return _terms(text)


@dataclass
class BuildStats:
    chunks: int = 0
    tokens: int = 0
    embedded: int = 0
    """Texts (chunks and their sentences) that had to be embedded; the others came from the
    vector cache."""
    seconds: float = 0.0


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def sentences(chunk: IndexedChunk) -> list[str]:
    """The chunk's sentences, list items and table rows (three words or more), each prefixed by
    the nearest heading; the whole chunk when it has none."""
    head = f"{chunk.headings[-1]}: " if chunk.headings else ""
    found = []
    for part in _SENTENCE.split(chunk.body):
        text = plain_text(part)
        if len(text.split()) >= 3:
            found.append(head + text)
    return found or [chunk.text]


@dataclass
class KnowledgeIndex:
    key: str
    chunks: list[IndexedChunk]
    embedder: Embedder | None
    vectors: Vectors | None = None
    """One row per chunk: the embedding of its heading path and body."""
    sentence_vectors: Vectors | None = None
    sentence_starts: np.ndarray[Any, Any] | None = None
    """Row in `sentence_vectors` where each chunk's sentences start (each has one or more)."""
    stats: BuildStats = field(default_factory=BuildStats)
    _bm25: Any = None

    @property
    def empty(self) -> bool:
        return not self.chunks

    def _bm25_scores(self, query: str) -> np.ndarray[Any, Any]:
        query_terms = terms(query)
        if self._bm25 is None or not query_terms:
            return np.zeros(len(self.chunks), np.float32)
        scores: np.ndarray[Any, Any] = self._bm25.get_scores(query_terms)
        return scores

    def semantic_scores(self, query_vector: Vectors) -> np.ndarray[Any, Any]:
        """Per chunk: the mean of the cosine to the whole chunk and to its closest sentence (a
        long passage is not diluted when one sentence of it answers the question)."""
        assert self.vectors is not None
        whole = self.vectors @ query_vector
        if self.sentence_vectors is None or self.sentence_starts is None:
            return whole
        closest = np.maximum.reduceat(self.sentence_vectors @ query_vector, self.sentence_starts)
        result: np.ndarray[Any, Any] = 0.5 * (whole + closest)
        return result

    def rank(self, query: str, method: Method = "hybrid") -> list[tuple[int, float]]:
        """Relevant chunk positions with their scores, best first."""
        if not self.chunks:
            return []
        if self.embedder is None or self.vectors is None:
            method = "bm25"
        lexical = self._bm25_scores(query) if method != "embedding" else None
        if method == "bm25":
            assert lexical is not None
            hits = np.flatnonzero(lexical > 0)
            hits = hits[np.argsort(-lexical[hits], kind="stable")]
            return [(int(i), float(lexical[i])) for i in hits]
        assert self.embedder is not None
        semantic = self.semantic_scores(self.embedder.encode([query])[0])
        relevant = np.flatnonzero(semantic >= MIN_SIMILARITY)
        if method == "embedding":
            order = relevant[np.argsort(-semantic[relevant], kind="stable")]
            return [(int(i), float(semantic[i])) for i in order]
        assert lexical is not None
        if method == "rrf":
            fused: dict[int, float] = {}
            hits = np.flatnonzero(lexical > 0)
            for ranking in (
                hits[np.argsort(-lexical[hits], kind="stable")],
                relevant[np.argsort(-semantic[relevant], kind="stable")],
            ):
                for rank, i in enumerate(ranking[:CANDIDATES]):
                    fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
            return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        best = float(lexical.max())
        lexical_part = lexical / best if best > 0 else np.zeros_like(semantic)
        combined = SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * lexical_part
        order = relevant[np.argsort(-combined[relevant], kind="stable")]
        return [(int(i), float(combined[i])) for i in order]

    def search(
        self,
        query: str,
        k: int = 3,
        token_budget: int | None = None,
        *,
        method: Method = "hybrid",
    ) -> list[Passage]:
        """The best passages for `query`, at most `k`, whose notes together fit `token_budget`
        (a passage that does not fit is skipped for a smaller one further down). Blocking: a few
        ms (one query embedding, BM25, a matrix-vector product); call it from a thread in async
        code."""
        found: list[Passage] = []
        used = 0
        for i, score in self.rank(query, method):
            chunk = self.chunks[i]
            if token_budget is not None and used + chunk.note_tokens > token_budget:
                continue
            found.append(chunk.passage(score))
            used += chunk.note_tokens
            if len(found) >= k:
                break
        return found


def build_index(
    documents: Sequence[SourceDocument],
    embedder: Embedder | None,
    *,
    vector_cache: VectorCache | None = None,
    target_tokens: int = TARGET_TOKENS,
    max_tokens: int = MAX_TOKENS,
) -> KnowledgeIndex:
    """Chunks, BM25 and embeddings for `documents`. Blocking and CPU-bound: with MiniLM about
    10 s per 50,000 tokens on one core when nothing is cached, milliseconds when every chunk's
    vector is in `vector_cache`."""
    started = time.perf_counter()
    chunks: list[IndexedChunk] = []
    for document in documents:
        for chunk in chunk_document(
            document.content, target_tokens=target_tokens, max_tokens=max_tokens
        ):
            note = Passage(document.id, document.name, chunk.headings, chunk.body, 0, 0)
            chunks.append(
                IndexedChunk(
                    document.id,
                    document.name,
                    chunk.headings,
                    chunk.body,
                    chunk.text,
                    count_tokens(note.as_note()),
                )
            )
    stats = BuildStats(chunks=len(chunks), tokens=sum(count_tokens(d.content) for d in documents))
    index = KnowledgeIndex(fingerprint(documents), chunks, embedder, stats=stats)
    if not chunks:
        stats.seconds = time.perf_counter() - started
        return index
    import bm25s

    bm25 = bm25s.BM25()
    corpus = [terms(c.text) or ["\0"] for c in chunks]
    bm25.index(corpus, show_progress=False)
    index._bm25 = bm25
    if embedder is not None:
        texts = [c.text for c in chunks]
        per_chunk = [sentences(c) for c in chunks]
        flat = [t for group in per_chunk for t in group]
        cache = vector_cache if vector_cache is not None else VectorCache()
        vectors, computed = cache.embed(embedder, texts + flat)
        index.vectors = vectors[: len(texts)]
        index.sentence_vectors = vectors[len(texts) :]
        index.sentence_starts = np.cumsum([0] + [len(g) for g in per_chunk[:-1]])
        stats.embedded = computed
    stats.seconds = time.perf_counter() - started
    return index
