"""Counts for operators (/metrics): sessions by status, the wait for slots, worker capacity."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from opencharacters.domain.session_states import SessionStatus
from opencharacters.store.tables import RealtimeSession
from opencharacters.store.workers import HELD, live_workers


@dataclass(frozen=True, slots=True)
class OpsSnapshot:
    sessions_by_status: dict[str, int]
    """Every status, zero where none (a series that vanishes reads as 'no data')."""
    queue_length: int
    """Sessions waiting for a worker to claim them."""
    failures_by_code: dict[str, int]
    live_workers: int
    slots_total: int
    slots_held: int


def ping(db: Session) -> None:
    """Raises when the database cannot answer a trivial query."""
    db.execute(text("SELECT 1"))


def ops_snapshot(db: Session, lease_s: float) -> OpsSnapshot:
    by_status = dict.fromkeys((status.value for status in SessionStatus), 0)
    rows = db.execute(select(RealtimeSession.status, func.count()).group_by(RealtimeSession.status))
    for status, count in rows:
        by_status[status] = int(count)
    queued = db.scalar(
        select(func.count())
        .select_from(RealtimeSession)
        .where(
            RealtimeSession.status == SessionStatus.NOT_READY,
            RealtimeSession.worker_id.is_(None),
        )
    )
    failures = db.execute(
        select(RealtimeSession.failure_code, func.count())
        .where(RealtimeSession.status == SessionStatus.FAILED)
        .group_by(RealtimeSession.failure_code)
    )
    workers = live_workers(db, lease_s)
    ids = [worker.id for worker in workers]
    held = (
        db.scalar(
            select(func.count())
            .select_from(RealtimeSession)
            .where(RealtimeSession.worker_id.in_(ids), RealtimeSession.status.in_(HELD))
        )
        if ids
        else 0
    )
    return OpsSnapshot(
        sessions_by_status=by_status,
        queue_length=int(queued or 0),
        failures_by_code={code or "UNKNOWN": int(count) for code, count in failures},
        live_workers=len(workers),
        slots_total=sum(worker.slots for worker in workers),
        slots_held=int(held or 0),
    )
