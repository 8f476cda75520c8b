"""KnowledgeBase on the real store (SQLite and PostgreSQL): nothing stale is ever served."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from opencharacters.background_cpu import BackgroundCpu
from opencharacters.dialogue.knowledge.service import KnowledgeBase
from opencharacters.domain.timefmt import utcnow
from opencharacters.engine_settings import EngineSettings, KnowledgeSettings
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.avatars import set_documents
from opencharacters.store.db import Database
from opencharacters.store.tables import Avatar, Document

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def settings() -> EngineSettings:
    # BM25 alone: the cache and staleness logic do not depend on the embedder.
    return EngineSettings(knowledge=KnowledgeSettings(embedder="none"))


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.session() as s:
            self.org = get_or_create_org(s, f"org-{uuid.uuid4().hex[:8]}").id

    def avatar(self, *document_ids: str) -> str:
        now = utcnow()
        with self.db.session() as s:
            avatar = Avatar(
                id=str(uuid.uuid4()),
                organization_id=self.org,
                name="A",
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
            set_documents(s, avatar, list(document_ids))
            return avatar.id

    def document(self, name: str, content: str) -> str:
        now = utcnow()
        with self.db.session() as s:
            document = Document(
                id=str(uuid.uuid4()),
                organization_id=self.org,
                name=name,
                type="text",
                content=content,
                created_at=now,
                updated_at=now,
            )
            s.add(document)
            return document.id

    def edit(
        self, document_id: str, *, content: str | None = None, name: str | None = None
    ) -> None:
        """What PATCH /v1/documents does."""
        with self.db.session() as s:
            document = s.get(Document, document_id)
            assert document is not None
            if content is not None:
                document.content = content
            if name is not None:
                document.name = name
            document.updated_at = utcnow()

    def attach(self, avatar_id: str, *document_ids: str) -> None:
        with self.db.session() as s:
            avatar = s.get(Avatar, avatar_id)
            assert avatar is not None
            set_documents(s, avatar, list(document_ids))

    def remove(self, document_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(Document).where(Document.id == document_id))


def texts(passages: list) -> str:  # type: ignore[type-arg]
    return " ".join(p.text for p in passages)


async def test_every_change_is_seen_on_the_next_turn(db: Database) -> None:
    world = World(db)
    hours = world.document("Hours", "# Hours\n\nThe shop opens at nine in the morning.")
    avatar = world.avatar(hours)
    kb = KnowledgeBase(db, settings())

    assert "nine" in texts(await kb.search(avatar, "when does the shop open"))

    world.edit(hours, content="# Hours\n\nThe shop opens at ten in the morning.")
    found = texts(await kb.search(avatar, "when does the shop open"))
    assert "ten" in found and "nine" not in found

    world.edit(hours, name="Opening hours")
    passages = await kb.search(avatar, "when does the shop open")
    assert [p.document_name for p in passages] == ["Opening hours"]

    prices = world.document("Prices", "# Prices\n\nA coffee costs three dollars.")
    world.attach(avatar, hours, prices)
    assert "three dollars" in texts(await kb.search(avatar, "how much is a coffee"))

    world.attach(avatar, prices)  # detached
    assert await kb.search(avatar, "when does the shop open") == []

    world.remove(prices)  # deleted
    assert await kb.search(avatar, "how much is a coffee") == []
    assert (await kb.index_for_avatar(avatar)).empty


async def test_unchanged_documents_reuse_the_index(db: Database) -> None:
    world = World(db)
    doc = world.document("FAQ", "# FAQ\n\n## Parking\n\nParking is free behind the shop.")
    first, second = world.avatar(doc), world.avatar(doc)
    kb = KnowledgeBase(db, settings())
    index = await kb.index_for_avatar(first)
    assert await kb.index_for_avatar(first) is index
    assert await kb.index_for_avatar(second) is index  # same documents, same index
    assert (await kb.index_for_avatar(str(uuid.uuid4()))).empty  # unknown avatar: nothing


async def test_concurrent_callers_share_one_build(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opencharacters.dialogue.knowledge import service

    world = World(db)
    avatar = world.avatar(world.document("FAQ", "Returns are free within 45 days."))
    builds = 0
    real_build = service.build_index

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal builds
        builds += 1
        return real_build(*args, **kwargs)

    monkeypatch.setattr(service, "build_index", counting)
    kb = KnowledgeBase(db, settings())
    indexes = await asyncio.gather(*(kb.index_for_avatar(avatar) for _ in range(5)))
    assert builds == 1
    assert all(i is indexes[0] for i in indexes)


async def test_background_refresh_prepares_the_index(db: Database) -> None:
    world = World(db)
    doc = world.document("FAQ", "Gift cards never expire.")
    avatar = world.avatar(doc)
    kb = KnowledgeBase(db, settings(), background_cpu=BackgroundCpu(niceness=0))
    kb.refresh([avatar])
    kb.refresh([avatar])  # coalesced with the one running
    await kb.wait_idle()
    built = kb._indexes.copy()
    assert len(built) == 1
    assert await kb.index_for_avatar(avatar) is next(iter(built.values()))

    world.edit(doc, content="Gift cards expire after five years.")
    kb.refresh([avatar])
    await kb.wait_idle()
    assert "five years" in texts(await kb.search(avatar, "do gift cards expire"))

    kb.forget(avatar)
    await kb.stop()


async def test_cache_size_bounds_memory(db: Database) -> None:
    world = World(db)
    kb = KnowledgeBase(
        db, EngineSettings(knowledge=KnowledgeSettings(embedder="none", cache_size=2))
    )
    avatars = [world.avatar(world.document(f"D{i}", f"Fact number {i}.")) for i in range(4)]
    for avatar in avatars:
        await kb.index_for_avatar(avatar)
    assert len(kb._indexes) == 2
    assert "Fact number 0" in texts(await kb.search(avatars[0], "fact number"))
