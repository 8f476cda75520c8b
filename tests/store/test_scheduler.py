"""The session queue on the real store: workers' claims, capacity, order, expiry, leases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store import workers
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.db import Database
from opencharacters.store.sessions import (
    create_session,
    expire_ready,
    fail_interrupted,
    mark_consumed,
    set_status,
)
from opencharacters.store.tables import Avatar, Conversation, MediaWorker, RealtimeSession

pytestmark = pytest.mark.integration

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
        session.query(MediaWorker).delete()
    database.dispose()


def add_worker(db: Database, slots: int) -> str:
    with db.write_session() as s:
        return workers.register(s, address="http://127.0.0.1:1", slots=slots).id


def claim(db: Database, worker_id: str, placement_wait_s: float = 60.0) -> list[str]:
    with db.write_session() as s:
        return workers.claim(s, worker_id, ready_ttl_s=60, placement_wait_s=placement_wait_s)


def housekeep(db: Database, lease_s: float = 10.0) -> list[workers.LostSession]:
    with db.write_session() as s:
        expire_ready(s)
        lost = workers.sweep_lost(s, lease_s)
        workers.mark_queued(s, lease_s)
        return lost


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


def test_workers_claim_oldest_first_within_their_slots_and_the_rest_is_queued(
    db: Database,
) -> None:
    one, two = add_worker(db, 1), add_worker(db, 1)
    ids = make_sessions(db, 3)
    housekeep(db)
    assert statuses(db, ids) == [("NOT_READY", False), ("NOT_READY", False), ("NOT_READY", True)]
    assert claim(db, one) == ids[:1]
    assert claim(db, one) == []  # its one slot is taken
    assert claim(db, two) == ids[1:2]
    housekeep(db)
    assert statuses(db, ids) == [("READY", False), ("READY", False), ("NOT_READY", True)]
    with db.session() as s:
        set_status(s, s.get(RealtimeSession, ids[0]), S.RUNNING)  # type: ignore[arg-type]
    assert claim(db, one) == []  # RUNNING still holds the slot
    with db.session() as s:
        set_status(s, s.get(RealtimeSession, ids[0]), S.COMPLETED)  # type: ignore[arg-type]
    assert claim(db, one) == [ids[2]]
    with db.session() as s:
        owners = [s.get(RealtimeSession, i).worker_id for i in ids]  # type: ignore[union-attr]
    assert owners == [one, two, one]


def test_a_session_is_claimed_once_under_concurrent_claimers(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    claimers = [add_worker(db, 10) for _ in range(4)]
    ids = make_sessions(db, 12)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda w: claim(db, w, placement_wait_s=0), claimers * 3))
    won = [session for result in results for session in result]
    assert sorted(won) == sorted(ids)  # every session exactly once
    with db.session() as s:
        for worker in claimers:
            assert workers.held_count(s, worker) == sum(
                1
                for i in ids
                if s.get(RealtimeSession, i).worker_id == worker  # type: ignore[union-attr]
            )


def test_placement_prefers_the_least_loaded_worker(db: Database) -> None:
    big, small = add_worker(db, 4), add_worker(db, 2)
    ids = make_sessions(db, 5)
    # The big worker asks first and takes one; then it is more loaded (1/4) than the idle
    # small one (0/2), so the rest wait for that one.
    assert claim(db, big) == ids[:1]
    assert claim(db, big) == []
    assert claim(db, small) == ids[1:2]  # now 1/2, more than the big one's 1/4
    assert claim(db, small) == []
    assert claim(db, big) == ids[2:4]  # 1/4 → 2/4 (ties go to the asker) → 3/4 > 1/2
    assert claim(db, small) == ids[4:5]  # 1/2 < 3/4; then it is full
    # An idle one-slot worker joins: a new session waits for it rather than going to the
    # busy big one, unless it has waited past the placement wait.
    idle = add_worker(db, 1)
    (late,) = make_sessions(db, 1)
    assert claim(db, big) == []
    assert claim(db, big, placement_wait_s=0) == [late]
    assert claim(db, idle) == []


def test_a_lost_worker_fails_its_sessions_where_they_stopped(db: Database) -> None:
    lost, alive = add_worker(db, 2), add_worker(db, 1)
    ids = make_sessions(db, 3)
    claim(db, lost, placement_wait_s=0)  # both of its slots, though the other worker is idle
    claim(db, alive)
    started = utcnow() - timedelta(seconds=30)
    with db.session() as s:
        running = s.get(RealtimeSession, ids[0])
        assert running is not None
        set_status(s, running, S.RUNNING, now=started)
    with db.session() as s:  # the call's last heartbeat came 9 s after it started
        assert workers.heartbeat(s, lost, now=started + timedelta(seconds=9))
        assert workers.heartbeat(s, alive)
    failed = housekeep(db, lease_s=10.0)
    assert {(f.session_id, f.was_running) for f in failed} == {(ids[0], True), (ids[1], False)}
    with db.session() as s:
        crashed = s.get(RealtimeSession, ids[0])
        assert crashed is not None and crashed.failure_code == "WORKER_LOST"
        assert crashed.duration == 9 and crashed.ended_at == started + timedelta(seconds=9)
        conversation = s.get(Conversation, ids[0])
        assert conversation is not None and conversation.duration == 9
        assert s.get(RealtimeSession, ids[2]).status == "READY"  # type: ignore[union-attr]
    with db.session() as s:  # the lost worker comes back: its lease is gone, its sessions stay
        assert not workers.heartbeat(s, lost)
    assert claim(db, lost) == []
    assert statuses(db, ids)[0][0] == "FAILED"


def test_a_worker_stopping_fails_what_it_holds(db: Database) -> None:
    worker = add_worker(db, 2)
    ids = make_sessions(db, 2)
    claim(db, worker)
    with db.write_session() as s:
        failed = workers.fail_worker_sessions(
            s, worker, failure="stopped", failure_code="SERVER_SHUTDOWN"
        )
        workers.deregister(s, worker)
    assert len(failed) == 2
    with db.session() as s:
        assert workers.live_workers(s, 10.0) == [] or all(
            w.id != worker for w in workers.live_workers(s, 10.0)
        )
        codes = [s.get(RealtimeSession, i).failure_code for i in ids]  # type: ignore[union-attr]
    assert codes == ["SERVER_SHUTDOWN", "SERVER_SHUTDOWN"]


def test_expiry_distinguishes_unconsumed_from_never_connected(db: Database) -> None:
    ids = make_sessions(db, 2)
    claim(db, add_worker(db, 5))
    with db.session() as s:
        consumed = s.get(RealtimeSession, ids[1])
        assert consumed is not None
        assert mark_consumed(s, consumed)
        assert mark_consumed(s, consumed) == ""  # once only
        for i in ids:
            row = s.get(RealtimeSession, i)
            assert row is not None
            row.expires_at = utcnow() - timedelta(seconds=1)
    housekeep(db)
    with db.session() as s:
        codes = [s.get(RealtimeSession, i).failure_code for i in ids]  # type: ignore[union-attr]
        assert codes == ["SESSION_EXPIRED", "CONNECTION_TIMEOUT"]
        assert all(s.get(Conversation, i).status == "failed" for i in ids)  # type: ignore[union-attr]


def test_restart_fails_sessions_no_worker_holds_and_keeps_the_others(db: Database) -> None:
    ids = make_sessions(db, 4)
    with db.session() as s:
        for i in ids[:3]:
            session = s.get(RealtimeSession, i)
            assert session is not None
            from opencharacters.store.sessions import make_ready

            make_ready(s, session, 60)  # as an older version did, in the API process
        running = s.get(RealtimeSession, ids[0])
        assert running is not None
        set_status(s, running, S.RUNNING)
        finished = s.get(RealtimeSession, ids[1])
        assert finished is not None
        set_status(s, finished, S.CANCELLED)
    worker = add_worker(db, 1)
    claim(db, worker)  # ids[3]: a worker's, untouched by an API restart
    with db.session() as s:
        assert fail_interrupted(s) == 2
    assert [status for status, _ in statuses(db, ids)] == [
        "FAILED",
        "CANCELLED",
        "FAILED",
        "READY",
    ]
    with db.session() as s:
        conversation = s.get(Conversation, ids[0])
        assert conversation is not None
        assert conversation.failure_code == "SERVER_RESTARTED"
        assert conversation.started_at is not None and conversation.ended_at is not None
