"""Leases on background jobs and the shared rate buckets, on the real databases: one claimer
wins among many threads, an expired lease is taken over, and the holder that lost it can no
longer write its result; the PostgreSQL token bucket serves many threads as one bucket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.api.ratelimit import SharedRateLimiter
from opencharacters.domain.timefmt import utcnow
from opencharacters.engine.background import Lease, LeaseLost, _current, check_lease
from opencharacters.store import job_leases
from opencharacters.store.db import Database

pytestmark = pytest.mark.integration

THREADS = 12


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def claim(db: Database, key: str, lease_s: float = 30.0) -> str:
    with db.write_session() as s:
        return job_leases.claim(s, "task", key, lease_s)


def test_one_of_many_concurrent_claimers_wins(db: Database) -> None:
    won: list[str] = []
    start = threading.Barrier(THREADS)

    def contend() -> None:
        start.wait()
        token = claim(db, "job-1")
        if token:
            won.append(token)

    threads = [threading.Thread(target=contend) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    with db.session() as s:
        assert job_leases.live_keys(s, "task") == {"job-1"}
        assert job_leases.renew(s, "task", "job-1", won[0], 30.0)


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_finish(db: Database) -> None:
    first = claim(db, "job-2", lease_s=0.2)
    assert first
    assert claim(db, "job-2") == ""  # still live
    time.sleep(0.3)
    second = claim(db, "job-2")
    assert second and second != first
    with db.session() as s:
        assert not job_leases.renew(s, "task", "job-2", first, 30.0)
    # The late finisher's result write is refused; the new holder's goes through.
    context = _current.set(Lease("task", "job-2", first))
    try:
        with pytest.raises(LeaseLost), db.session() as s:
            check_lease(s)
    finally:
        _current.reset(context)
    context = _current.set(Lease("task", "job-2", second))
    try:
        with db.session() as s:
            check_lease(s)
            job_leases.release(s, "task", "job-2", second)
    finally:
        _current.reset(context)
    with db.session() as s:
        assert "job-2" not in job_leases.live_keys(s, "task")


def test_stale_rows_are_forgotten(db: Database) -> None:
    assert claim(db, "job-3", lease_s=0.01)
    with db.session() as s:
        job_leases.forget_stale(s, now=utcnow() + timedelta(hours=2))
    with db.session() as s:
        assert "job-3" not in job_leases.live_keys(s, "task", now=utcnow() - timedelta(days=1))


def test_the_shared_bucket_lets_exactly_its_burst_through(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the shared buckets are PostgreSQL's (SQLite keeps them in memory)")
    # Two limiters on one database stand for two API processes.
    nodes = [SharedRateLimiter(db, "org", per_minute=1, burst=20) for _ in range(2)]
    passed: list[int] = []
    start = threading.Barrier(THREADS)

    def hammer(index: int) -> None:
        start.wait()
        for _ in range(5):
            if nodes[index % 2].acquire("org-1") == 0:
                passed.append(index)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 20
    wait = nodes[0].wait("org-1")
    assert 0 < wait <= 60
    assert nodes[1].acquire("org-1") == pytest.approx(wait, abs=1.0)
    assert nodes[0].wait("org-2") == 0  # another key has its own bucket
