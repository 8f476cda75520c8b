"""Each avatar's knowledge index, kept current for the API and the live-session worker.

Indexes are cached by a fingerprint of the avatar's documents (ids, names, content), so a changed,
deleted or detached document can never be answered from an old index. Before handing out an index
the current documents are checked with one small query (ids and update times of the avatar's
documents, no content); when they changed, the content is read again and the index for the new
fingerprint is taken from the cache or built.

The API calls `refresh` after every change (document created, updated or deleted; avatar created
or its documentIds changed), so indexes are rebuilt in the background and a session usually finds
its index ready. Chunk and sentence embeddings are cached by text, so changing one document only
embeds that document again."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy import select

from opencharacters.background_cpu import BackgroundCpu
from opencharacters.dialogue.knowledge.embedding import Embedder, shared_embedder
from opencharacters.dialogue.knowledge.index import (
    KnowledgeIndex,
    Passage,
    SourceDocument,
    VectorCache,
    build_index,
    fingerprint,
)
from opencharacters.engine_settings import EngineSettings
from opencharacters.store.db import Database
from opencharacters.store.tables import AvatarDocument, Document

log = logging.getLogger(__name__)


def _version_of(rows: Sequence[tuple[str, object]]) -> str:
    digest = hashlib.sha256()
    for document_id, updated_at in rows:
        digest.update(f"{document_id}@{updated_at};".encode())
    return digest.hexdigest()


class KnowledgeBase:
    """One per process. Thread-safe where it says so; its coroutines run on one event loop."""

    def __init__(
        self,
        db: Database,
        settings: EngineSettings,
        background_cpu: BackgroundCpu | None = None,
        *,
        embedder: Embedder | None = None,
        vector_cache: VectorCache | None = None,
    ) -> None:
        """`embedder`: one already loaded (benchmarks, tests); by default the configured one is
        loaded on first use. `vector_cache`: one to share (benchmarks)."""
        self._db = db
        self._settings = settings
        self._background = background_cpu
        """Background (re)builds and warm-ups run there: one at a time with image or video
        jobs, below the calls. A build someone is waiting for (`index_for_avatar`) does not."""
        self._vectors = vector_cache if vector_cache is not None else VectorCache()
        self._indexes: OrderedDict[str, KnowledgeIndex] = OrderedDict()
        self._versions: dict[str, tuple[str, str]] = {}
        """avatar id -> (version of its document rows, fingerprint of their content)"""
        self._building: dict[str, asyncio.Future[KnowledgeIndex]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._embedder: Embedder | None = embedder
        self._embedder_loaded = embedder is not None
        self._embedder_lock = asyncio.Lock()

    # --- the live worker's side -------------------------------------------------------------

    async def index_for_avatar(self, avatar_id: str) -> KnowledgeIndex:
        """The index of the avatar's documents as they are now (an empty index when it has none
        or does not exist). Cheap when nothing changed (one small query in a thread); builds
        when needed: milliseconds when the documents' embeddings are cached (the API warms them
        in the background), else roughly 30 s per 50,000 tokens on one core. Call it at
        session start, and on each turn through `search` so a document changed mid-call is
        never served."""
        version = await asyncio.to_thread(self._version, avatar_id)
        known = self._versions.get(avatar_id)
        if known is not None and known[0] == version:
            cached = self._indexes.get(known[1])
            if cached is not None:
                self._indexes.move_to_end(known[1])
                return cached
        return await self._ensure(avatar_id, background=False)

    async def search(
        self,
        avatar_id: str,
        query: str,
        *,
        k: int | None = None,
        token_budget: int | None = None,
    ) -> list[Passage]:
        """The passages for one caller turn. Checks that the avatar's documents are unchanged
        and searches in one trip to a worker thread (about 5 ms on a quiet core at 50,000
        tokens); when they changed, gets the current index first (`index_for_avatar`). `k` and
        `token_budget` default to engines.knowledge.top_k and token_budget."""
        if not query.strip():
            return []
        settings = self._settings.knowledge
        k = k if k is not None else settings.top_k
        budget = token_budget if token_budget is not None else settings.token_budget
        known = self._versions.get(avatar_id)
        cached = self._indexes.get(known[1]) if known is not None else None
        if known is not None and cached is not None:
            found = await asyncio.to_thread(
                self._search_if_current, avatar_id, known[0], cached, query, k, budget
            )
            if found is not None:
                self._indexes.move_to_end(known[1])
                return found
        index = await self.index_for_avatar(avatar_id)
        if index.empty:
            return []
        return await asyncio.to_thread(index.search, query, k, budget)

    def _search_if_current(
        self, avatar_id: str, version: str, index: KnowledgeIndex, query: str, k: int, budget: int
    ) -> list[Passage] | None:
        """In a worker thread: the search, or None when the documents changed since `version`."""
        if self._version(avatar_id) != version:
            return None
        return [] if index.empty else index.search(query, k, budget)

    # --- the API's side ---------------------------------------------------------------------

    def refresh(self, avatar_ids: Iterable[str]) -> None:
        """(Re)build these avatars' indexes in the background. Needs a running event loop."""
        for avatar_id in avatar_ids:
            if avatar_id in self._refreshing:
                self._dirty.add(avatar_id)
                continue
            task = asyncio.create_task(self._refresh(avatar_id), name=f"knowledge-{avatar_id}")
            self._refreshing[avatar_id] = task

    def warm(self, documents: Sequence[SourceDocument]) -> None:
        """Embed new or changed documents in the background, so attaching them is quick."""
        if documents and self._settings.knowledge.embedder != "none":
            task = asyncio.create_task(self._warm(list(documents)), name="knowledge-warm")
            self._refreshing[f"warm-{id(task)}"] = task
            task.add_done_callback(lambda t: self._refreshing.pop(f"warm-{id(t)}", None))

    def forget(self, avatar_id: str) -> None:
        """The avatar is gone: drop what was kept for it."""
        known = self._versions.pop(avatar_id, None)
        if known is not None and known[1] not in {key for _, key in self._versions.values()}:
            self._indexes.pop(known[1], None)

    async def stop(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Until no background refresh is pending (tests, benchmarks)."""
        while self._refreshing:
            await asyncio.gather(*list(self._refreshing.values()), return_exceptions=True)

    # --- internals --------------------------------------------------------------------------

    def _version(self, avatar_id: str) -> str:
        with self._db.session() as db:
            rows = db.execute(
                select(Document.id, Document.updated_at)
                .join(AvatarDocument, AvatarDocument.document_id == Document.id)
                .where(AvatarDocument.avatar_id == avatar_id)
                .order_by(AvatarDocument.position)
            ).all()
        return _version_of([(r[0], r[1]) for r in rows])

    def _documents(self, avatar_id: str) -> tuple[str, list[SourceDocument]]:
        with self._db.session() as db:
            rows = db.execute(
                select(Document.id, Document.updated_at, Document.name, Document.content)
                .join(AvatarDocument, AvatarDocument.document_id == Document.id)
                .where(AvatarDocument.avatar_id == avatar_id)
                .order_by(AvatarDocument.position)
            ).all()
        version = _version_of([(r[0], r[1]) for r in rows])
        return version, [SourceDocument(r[0], r[2], r[3]) for r in rows]

    async def embedder(self) -> Embedder | None:
        """The embedder, loaded once (about 1 s); None when configured off or unavailable (then
        retrieval is BM25 alone, and the reason is logged)."""
        if self._embedder_loaded:
            return self._embedder
        async with self._embedder_lock:
            if not self._embedder_loaded:
                try:
                    self._embedder = await asyncio.to_thread(shared_embedder, self._settings)
                except Exception:
                    log.exception("knowledge: no embedding model, retrieval falls back to BM25")
                    self._embedder = None
                self._embedder_loaded = True
        return self._embedder

    async def _ensure(self, avatar_id: str, *, background: bool) -> KnowledgeIndex:
        version, documents = await asyncio.to_thread(self._documents, avatar_id)
        key = fingerprint(documents)
        self._versions[avatar_id] = (version, key)
        cached = self._indexes.get(key)
        if cached is not None:
            self._indexes.move_to_end(key)
            return cached
        running = self._building.get(key)
        if running is not None:
            return await asyncio.shield(running)
        if background and self._background is not None:
            async with self._background:
                return await self._build(key, documents, self._background.run)
        return await self._build(key, documents, asyncio.to_thread)

    async def _build(
        self,
        key: str,
        documents: list[SourceDocument],
        run: Callable[..., Awaitable[KnowledgeIndex]],
    ) -> KnowledgeIndex:
        cached = self._indexes.get(key)  # built while this one waited for the gate
        if cached is not None:
            return cached
        running = self._building.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[KnowledgeIndex] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            embedder = await self.embedder() if documents else None
            settings = self._settings.knowledge
            index = await run(
                build_index,
                documents,
                embedder,
                vector_cache=self._vectors,
                target_tokens=settings.chunk_tokens,
                max_tokens=settings.max_chunk_tokens,
            )
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            self._building.pop(key, None)
        self._indexes[key] = index
        while len(self._indexes) > self._settings.knowledge.cache_size:
            self._indexes.popitem(last=False)
        future.set_result(index)
        if index.stats.embedded:
            log.info(
                "knowledge: indexed %d chunks (%d tokens, %d texts embedded) in %.2f s",
                index.stats.chunks,
                index.stats.tokens,
                index.stats.embedded,
                index.stats.seconds,
            )
        return index

    async def _refresh(self, avatar_id: str) -> None:
        try:
            while True:
                self._dirty.discard(avatar_id)
                try:
                    await self._ensure(avatar_id, background=True)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("knowledge: indexing avatar %s failed", avatar_id)
                if avatar_id not in self._dirty:
                    return
        finally:
            self._refreshing.pop(avatar_id, None)

    async def _warm(self, documents: list[SourceDocument]) -> None:
        try:
            if self._background is not None:
                async with self._background:
                    await self._warm_now(documents, self._background.run)
            else:
                await self._warm_now(documents, asyncio.to_thread)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("knowledge: embedding documents in advance failed")

    async def _warm_now(
        self, documents: list[SourceDocument], run: Callable[..., Awaitable[KnowledgeIndex]]
    ) -> None:
        embedder = await self.embedder()
        if embedder is None:
            return
        settings = self._settings.knowledge
        # Building the index of these documents alone embeds exactly their chunks and sentences.
        await run(
            build_index,
            documents,
            embedder,
            vector_cache=self._vectors,
            target_tokens=settings.chunk_tokens,
            max_tokens=settings.max_chunk_tokens,
        )


__all__ = ["KnowledgeBase", "fingerprint"]
