"""The webhook outbox on SQLite and PostgreSQL: events only for subscribers, one claim per
delivery under concurrency, order per key, leases that run out, back-off and giving up."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from opencharacters.domain.timefmt import utcnow
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.db import Database
from opencharacters.store.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent
from opencharacters.store.webhook_events import EventType
from opencharacters.store.webhooks import (
    AttemptOutcome,
    DeliveryJob,
    claim_due,
    emit,
    prune,
    record_attempt,
    retry_delay_s,
)
from opencharacters.webhooks.signing import new_secret

pytestmark = pytest.mark.integration

OK = AttemptOutcome(200, 5, None, "ok")
BROKEN = AttemptOutcome(500, 5, "HTTP 500", "")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    with db.session() as s:  # the database is the module's: start each test with no outbox
        s.execute(delete(WebhookEvent))
        s.execute(delete(WebhookEndpoint))
    yield db
    db.dispose()


def add_endpoint(db: Database, org_name: str, types: list[str] | None = None) -> tuple[str, str]:
    with db.session() as s:
        org = get_or_create_org(s, org_name)
        endpoint = WebhookEndpoint(
            id=str(uuid.uuid4()),
            organization_id=org.id,
            url="https://example.org/hooks",
            description=None,
            event_types=types or [],
            secret=new_secret(),
            enabled=True,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        s.add(endpoint)
        return org.id, endpoint.id


def queue(db: Database, org_id: str, key: str, kind: EventType = EventType.TEST) -> str | None:
    with db.session() as s:
        return emit(s, org_id, kind, {"n": key}, ordering_key=key)


def claim(db: Database, limit: int = 10, lease_s: float = 30) -> list[DeliveryJob]:
    with db.session() as s:
        return claim_due(s, limit=limit, lease_s=lease_s)


def settle(db: Database, job: DeliveryJob, outcome: AttemptOutcome, **kw: float) -> None:
    with db.session() as s:
        record_attempt(
            s,
            job,
            outcome,
            max_attempts=int(kw.get("max_attempts", 3)),
            base_s=kw.get("base_s", 0.2),
            max_s=3600,
        )


def test_events_go_only_to_subscribed_endpoints(database: Database) -> None:
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}", ["task.failed"])
    assert queue(database, org_id, "a", EventType.TASK_SUCCEEDED) is None
    event_id = queue(database, org_id, "a", EventType.TASK_FAILED)
    assert event_id is not None and event_id.startswith("msg_")
    with database.session() as s:
        stored = s.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id))
        assert stored is not None and stored.payload["type"] == "task.failed"
        assert (
            s.scalar(select(WebhookEvent.id).where(WebhookEvent.type == "task.succeeded")) is None
        )


def test_one_key_goes_in_order_other_keys_do_not_wait(database: Database) -> None:
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}")
    first = queue(database, org_id, "session-1")
    second = queue(database, org_id, "session-1")
    other = queue(database, org_id, "session-2")
    jobs = claim(database)
    assert [j.event_id for j in jobs] == [first, other], "session-1's second waits its turn"
    settle(database, jobs[0], BROKEN)  # a retry of the first still holds the second back
    time.sleep(0.3)
    retry = claim(database)
    assert [j.event_id for j in retry] == [first] and retry[0].attempt == 2
    settle(database, retry[0], OK)
    assert [j.event_id for j in claim(database)] == [second]


def test_concurrent_claims_never_share_a_delivery(database: Database) -> None:
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}")
    queued = {queue(database, org_id, f"key-{n}") for n in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                jobs = claim(database, limit=3)
                with lock:
                    claimed.extend(j.event_id for j in jobs)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == len(set(claimed)) == len(queued), "each claimed exactly once"


def test_a_lease_runs_out_and_the_delivery_is_claimed_again(database: Database) -> None:
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}")
    event_id = queue(database, org_id, "k")
    [job] = claim(database, lease_s=0.5)
    assert claim(database) == []
    time.sleep(0.7)  # the claiming process died: nobody settles the attempt
    [again] = claim(database)
    assert again.event_id == event_id and again.lease_token != job.lease_token
    settle(database, job, OK)  # the dead process's late answer must not settle the new lease
    with database.session() as s:
        row = s.get(WebhookDelivery, again.delivery_id)
        assert row is not None and row.status == "PENDING"


def test_back_off_doubles_and_attempts_run_out(database: Database) -> None:
    assert [retry_delay_s(n, 5, 3600) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay_s(20, 5, 3600) == 3600
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}")
    queue(database, org_id, "k")
    [job] = claim(database)
    settle(database, job, BROKEN, base_s=30)
    with database.session() as s:
        row = s.get(WebhookDelivery, job.delivery_id)
        assert row is not None and row.attempts == 1
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        assert 28 < wait <= 30
        row.next_attempt_at = utcnow()  # skip the wait
    [job] = claim(database)
    settle(database, job, BROKEN, max_attempts=2)
    with database.session() as s:
        row = s.get(WebhookDelivery, job.delivery_id)
        assert row is not None and row.status == "FAILED" and row.finished_at is not None
    assert claim(database) == []


def test_prune_forgets_only_old_finished_events(database: Database) -> None:
    org_id, _ = add_endpoint(database, f"o-{uuid.uuid4()}")
    done = queue(database, org_id, "done")
    waiting = queue(database, org_id, "waiting")
    for job in claim(database):
        if job.event_id == done:
            settle(database, job, OK)
    with database.session() as s:
        assert prune(s, utcnow() - timedelta(days=1)) == 0  # nothing old yet
        assert prune(s, utcnow() + timedelta(days=1)) == 1
        left = set(s.scalars(select(WebhookEvent.id).where(WebhookEvent.organization_id == org_id)))
    assert left == {waiting}
