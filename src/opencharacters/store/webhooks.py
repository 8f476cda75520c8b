"""The webhook outbox: events written beside the change they report, deliveries claimed with a
lease by whichever server process gets there first, and the log of every attempt.

An event and its deliveries are inserted in the caller's transaction, so a state change and
its event commit (or vanish) together: a crash after the commit loses nothing, and the
delivery loop of any process picks the rows up. A delivery is due when its back-off has passed,
no other process holds its lease, and every earlier event with the same ordering key (a
session's id, an avatar's…) has left the queue for that endpoint: so one session's events
arrive in the order they happened, while other sessions' events are not held up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from opencharacters.domain.timefmt import iso, utcnow
from opencharacters.store.tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from opencharacters.store.webhook_events import EventType

PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
MAX_LOGGED_BODY = 2000
"""Characters of a receiver's answer kept in the delivery log."""


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


def wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return endpoint.enabled and (not endpoint.event_types or event_type in endpoint.event_types)


def emit(
    db: Session,
    org_id: str,
    event_type: EventType,
    data: dict[str, Any],
    *,
    ordering_key: str,
    only_endpoint: str | None = None,
) -> str | None:
    """Queues an event for every endpoint of the organization that subscribes to its type, in
    the caller's transaction. Returns the event id, or None when no endpoint wants it (then
    nothing is stored)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org_id)
    if only_endpoint is not None:
        query = query.where(WebhookEndpoint.id == only_endpoint)
    endpoints = [e for e in db.scalars(query) if only_endpoint is not None or wants(e, event_type)]
    if not endpoints:
        return None
    now = utcnow()
    event = WebhookEvent(
        id=new_event_id(),
        organization_id=org_id,
        type=event_type.value,
        ordering_key=ordering_key,
        payload={"type": event_type.value, "timestamp": iso(now), "data": data},
        created_at=now,
    )
    db.add(event)
    db.flush()  # assigns the sequence number that orders deliveries
    for endpoint in endpoints:
        db.add(
            WebhookDelivery(
                id=str(uuid.uuid4()),
                event_seq=event.seq,
                endpoint_id=endpoint.id,
                ordering_key=ordering_key,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return event.id


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """What one attempt needs, read once at claim time."""

    delivery_id: str
    lease_token: str
    attempt: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


def claim_due(db: Session, *, limit: int, lease_s: float) -> list[DeliveryJob]:
    """Leases up to `limit` due deliveries to the caller, in event order.

    One UPDATE … WHERE id IN (due rows) decides, so two processes never lease the same row:
    SQLite runs the statement under its single write lock; PostgreSQL locks the chosen rows
    and skips those another transaction is claiming."""
    now = utcnow()
    token = str(uuid.uuid4())
    earlier = aliased(WebhookDelivery)
    blocked_by_earlier = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.event_seq < WebhookDelivery.event_seq,
        earlier.status == PENDING,
    )
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            WebhookEndpoint.enabled.is_(True),
            ~blocked_by_earlier,
        )
        .order_by(WebhookDelivery.event_seq)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=WebhookDelivery, skip_locked=True)
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=lease_s), lease_token=token)
        .execution_options(synchronize_session=False)
    )
    rows = db.execute(
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, WebhookEvent.seq == WebhookDelivery.event_seq)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.lease_token == token)
        .order_by(WebhookDelivery.event_seq)
    ).all()
    return [
        DeliveryJob(
            delivery_id=delivery.id,
            lease_token=token,
            attempt=delivery.attempts + 1,
            url=endpoint.url,
            secret=endpoint.secret,
            event_id=event.id,
            event_type=event.type,
            payload=event.payload,
        )
        for delivery, event, endpoint in rows
    ]


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    status_code: int | None
    response_ms: int | None
    error: str | None
    response_body: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay_s(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential back-off after the `attempt`-th failure: base, 2·base, 4·base, … ≤ max."""
    return float(min(max_s, base_s * 2 ** (attempt - 1)))


def record_attempt(
    db: Session,
    job: DeliveryJob,
    outcome: AttemptOutcome,
    *,
    max_attempts: int,
    base_s: float,
    max_s: float,
) -> None:
    """Logs the attempt and settles the delivery: delivered, retried later, or given up."""
    now = utcnow()
    values: dict[str, Any] = {
        "attempts": job.attempt,
        "lease_until": None,
        "lease_token": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        values.update(status=SUCCEEDED, finished_at=now)
    elif job.attempt >= max_attempts:
        values.update(status=FAILED, finished_at=now)
    else:
        delay = retry_delay_s(job.attempt, base_s, max_s)
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    # Only while this process still holds the lease (a slow attempt may have lost it).
    db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == job.delivery_id,
            WebhookDelivery.lease_token == job.lease_token,
            WebhookDelivery.status == PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.add(
        WebhookAttempt(
            delivery_id=job.delivery_id,
            attempted_at=now,
            status_code=outcome.status_code,
            response_ms=outcome.response_ms,
            error=outcome.error,
            response_body=outcome.response_body[:MAX_LOGGED_BODY]
            if outcome.response_body
            else None,
        )
    )


def next_due_in_s(db: Session) -> float | None:
    """Seconds until the earliest pending delivery is due (None when nothing is pending)."""
    earliest: datetime | None = db.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status == PENDING)
    )
    if earliest is None:
        return None
    return max(0.0, (earliest - utcnow()).total_seconds())


def prune(db: Session, older_than: datetime) -> int:
    """Forgets events whose deliveries all finished before `older_than` (their log goes too)."""
    unfinished = exists().where(
        and_(
            WebhookDelivery.event_seq == WebhookEvent.seq,
            or_(WebhookDelivery.status == PENDING, WebhookDelivery.finished_at >= older_than),
        )
    )
    result = db.execute(
        delete(WebhookEvent)
        .where(WebhookEvent.created_at < older_than, ~unfinished)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
