"""The scheduler's queue on the real store: capacity, order, expiry, crash recovery."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.db import Database
from opencharacters.store.sessions import (
    create_session,
    fail_interrupted,
    mark_consumed,
    schedule,
    set_status,
)
from opencharacters.store.tables import Avatar, Conversation, RealtimeSession

S = SessionStatus


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    with database.session() as session:
        session.query(RealtimeSession).delete()
        session.query(Conversation).delete()
        session.query(Avatar).delete()
    database.dispose()


def make_sessions(db: Database, count: int) -> list[str]:
    with db.session() as s:
        org = get_or_create_org(s, f"org-{uuid.uuid4().hex[:8]}")
        now = utcnow()
        avatar = Avatar(
            id=str(uuid.uuid4()),
            organization_id=org.id,
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
        ids = []
        for _ in range(count):
            ids.append(
                create_session(
                    s,
                    org_id=org.id,
                    avatar=avatar,
                    max_duration=300,
                    personality=None,
                    start_script=None,
                    tools=[],
                ).id
            )
        return ids


def statuses(db: Database, ids: list[str]) -> list[tuple[str, bool]]:
    with db.session() as s:
        return [(s.get(RealtimeSession, i).status, s.get(RealtimeSession, i).queued) for i in ids]  # type: ignore[union-attr]


def test_capacity_promotes_oldest_first_and_queues_the_rest(db: Database) -> None:
    ids = make_sessions(db, 3)
    with db.session() as s:
        assert schedule(s, capacity=2, ready_ttl_s=60) == ids[:2]
    assert statuses(db, ids) == [("READY", False), ("READY", False), ("NOT_READY", True)]
    with db.session() as s:
        set_status(s, s.get(RealtimeSession, ids[0]), S.RUNNING)  # type: ignore[arg-type]
        assert schedule(s, capacity=2, ready_ttl_s=60) == []  # RUNNING still holds a slot
        set_status(s, s.get(RealtimeSession, ids[0]), S.COMPLETED)  # type: ignore[arg-type]
        assert schedule(s, capacity=2, ready_ttl_s=60) == [ids[2]]


def test_expiry_distinguishes_unconsumed_from_never_connected(db: Database) -> None:
    ids = make_sessions(db, 2)
    with db.session() as s:
        schedule(s, capacity=5, ready_ttl_s=60)
        consumed = s.get(RealtimeSession, ids[1])
        assert consumed is not None
        assert mark_consumed(s, consumed)
        assert mark_consumed(s, consumed) == ""  # once only
        for i in ids:
            row = s.get(RealtimeSession, i)
            assert row is not None
            row.expires_at = utcnow() - timedelta(seconds=1)
    with db.session() as s:
        schedule(s, capacity=5, ready_ttl_s=60)
        codes = [s.get(RealtimeSession, i).failure_code for i in ids]  # type: ignore[union-attr]
        assert codes == ["SESSION_EXPIRED", "CONNECTION_TIMEOUT"]
        assert all(s.get(Conversation, i).status == "failed" for i in ids)  # type: ignore[union-attr]


def test_restart_fails_every_active_session_and_keeps_ended_ones(db: Database) -> None:
    ids = make_sessions(db, 4)
    with db.session() as s:
        schedule(s, capacity=2, ready_ttl_s=60)  # 2 READY, 2 queued
        running = s.get(RealtimeSession, ids[0])
        assert running is not None
        set_status(s, running, S.RUNNING)
        finished = s.get(RealtimeSession, ids[1])
        assert finished is not None
        set_status(s, finished, S.CANCELLED)
    with db.session() as s:
        assert fail_interrupted(s) == 3
    assert [status for status, _ in statuses(db, ids)] == [
        "FAILED",
        "CANCELLED",
        "FAILED",
        "FAILED",
    ]
    with db.session() as s:
        conversation = s.get(Conversation, ids[0])
        assert conversation is not None
        assert conversation.failure_code == "SERVER_RESTARTED"
        assert conversation.started_at is not None and conversation.ended_at is not None
