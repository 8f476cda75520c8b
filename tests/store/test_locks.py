"""Check-then-act under concurrency on the real databases: a limit counted under
`lock_organization`, a row read `with_for_update` and a claimed upload each let exactly the
allowed number of threads through, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from opencharacters.domain.errors import Forbidden
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.db import Database
from opencharacters.store.locks import lock_organization
from opencharacters.store.tables import Upload
from opencharacters.store.uploads import claim_upload, release_claim

pytestmark = pytest.mark.integration

THREADS = 12
# Widens the gap between the check and the act, so an unlocked version fails every time.
RACE_WINDOW_S = 0.02


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def new_org(db: Database) -> str:
    with db.session() as s:
        return get_or_create_org(s, f"org-{uuid.uuid4().hex[:8]}").id


def new_upload(db: Database, org_id: str, ttl_s: float = 600) -> str:
    now = utcnow()
    upload = Upload(
        id=str(uuid.uuid4()),
        organization_id=org_id,
        filename="a.png",
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    with db.session() as s:
        s.add(upload)
    return upload.id


def run_at_once(work: Callable[[], bool]) -> list[bool]:
    """Runs `work` on THREADS threads released together; returns what each returned."""
    start = threading.Barrier(THREADS)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(work())
        except BaseException as exc:  # surfaced below: a thread's error must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == THREADS
    return results


def uploads_of(db: Database, org_id: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(Upload.organization_id == org_id)) or 0)


def test_a_limit_counted_under_the_organization_lock_holds(db: Database) -> None:
    org_id, other_org = new_org(db), new_org(db)
    limit = 4

    def create_within_limit() -> bool:
        with db.session() as s:
            lock_organization(s, org_id)
            count = s.scalar(select(func.count()).where(Upload.organization_id == org_id))
            time.sleep(RACE_WINDOW_S)
            if count is not None and count >= limit:
                return False
            s.add(
                Upload(
                    id=str(uuid.uuid4()),
                    organization_id=org_id,
                    filename="x",
                    created_at=utcnow(),
                    expires_at=utcnow(),
                )
            )
            return True

    results = run_at_once(create_within_limit)
    assert results.count(True) == limit
    assert uploads_of(db, org_id) == limit
    # Another organization's work is not held up by it (and the lock is gone after commit).
    new_upload(db, other_org)
    assert uploads_of(db, other_org) == 1


def test_with_for_update_serializes_read_then_write_on_both_databases(db: Database) -> None:
    upload_id = new_upload(db, new_org(db))

    def complete_once() -> bool:
        with db.session() as s:
            upload = s.get(Upload, upload_id, with_for_update=True)
            assert upload is not None
            if upload.completed_at is not None:
                return False
            time.sleep(RACE_WINDOW_S)
            upload.completed_at = utcnow()
            return True

    assert run_at_once(complete_once).count(True) == 1


def test_an_upload_is_claimed_once_and_can_be_released(db: Database) -> None:
    upload_id = new_upload(db, new_org(db))

    def claim() -> bool:
        try:
            with db.session() as s:
                claim_upload(s, upload_id, utcnow())
            return True
        except Forbidden as refused:
            assert "already received" in str(refused)
            return False

    assert run_at_once(claim).count(True) == 1
    with db.session() as s:
        release_claim(s, upload_id)
    with db.session() as s:
        claim_upload(s, upload_id, utcnow())
    expired = new_upload(db, new_org(db), ttl_s=-1)
    with pytest.raises(Forbidden, match="expired"), db.session() as s:
        claim_upload(s, expired, utcnow())
