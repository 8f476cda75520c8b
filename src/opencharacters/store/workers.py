"""Media workers in the database: registration, leases, claiming sessions, losing a worker.

The database is the queue and the truth. A worker claims a waiting session (NOT_READY, no
worker) by a conditional UPDATE whose row count says whether it won; on PostgreSQL the candidates
are read `FOR UPDATE SKIP LOCKED` so claimers never wait on each other, on SQLite the claim runs
in a BEGIN IMMEDIATE transaction (`Database.write_session`), which serialises claimers."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from opencharacters.domain.session_states import ACTIVE, SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.sessions import make_ready, set_status
from opencharacters.store.tables import MediaWorker, RealtimeSession

S = SessionStatus
HELD = (S.READY.value, S.RUNNING.value)
"""The statuses that hold one of a worker's slots."""

WORKER_LOST = "WORKER_LOST"
SERVER_SHUTDOWN = "SERVER_SHUTDOWN"


def register(db: Session, *, address: str, slots: int, worker_id: str | None = None) -> MediaWorker:
    now = utcnow()
    worker = MediaWorker(
        id=worker_id or str(uuid.uuid4()),
        address=address,
        slots=slots,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        started_at=now,
        heartbeat_at=now,
        stopped_at=None,
        lost=False,
    )
    db.add(worker)
    db.flush()
    return worker


def heartbeat(db: Session, worker_id: str, *, now: datetime | None = None) -> bool:
    """Renews the lease and marks the worker's running calls alive now. False: the lease was
    lost (the worker was declared dead) or ended; its sessions are not its own any more."""
    now = now or utcnow()
    renewed = db.execute(
        update(MediaWorker)
        .where(MediaWorker.id == worker_id, MediaWorker.stopped_at.is_(None))
        .values(heartbeat_at=now)
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.execute(
        update(RealtimeSession)
        .where(RealtimeSession.worker_id == worker_id, RealtimeSession.status == S.RUNNING)
        .values(alive_at=now)
    )
    return True


def mark_alive(db: Session, session_id: str, now: datetime) -> None:
    db.execute(update(RealtimeSession).where(RealtimeSession.id == session_id).values(alive_at=now))


def deregister(db: Session, worker_id: str) -> None:
    db.execute(
        update(MediaWorker)
        .where(MediaWorker.id == worker_id, MediaWorker.stopped_at.is_(None))
        .values(stopped_at=utcnow())
    )


def live_workers(db: Session, lease_s: float, now: datetime | None = None) -> list[MediaWorker]:
    cutoff = (now or utcnow()) - timedelta(seconds=lease_s)
    return list(
        db.scalars(
            select(MediaWorker).where(
                MediaWorker.stopped_at.is_(None), MediaWorker.heartbeat_at > cutoff
            )
        )
    )


def held_count(db: Session, worker_id: str) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(RealtimeSession)
            .where(RealtimeSession.worker_id == worker_id, RealtimeSession.status.in_(HELD))
        )
        or 0
    )


def has_waiting(db: Session) -> bool:
    return (
        db.scalar(
            select(RealtimeSession.id)
            .where(RealtimeSession.status == S.NOT_READY, RealtimeSession.worker_id.is_(None))
            .limit(1)
        )
        is not None
    )


PLACEMENT_WAIT_S = 1.0
"""How long a waiting session is left to a less loaded worker before any worker with a free
slot takes it: every worker is woken when a session is created, so the least loaded one claims
it well within this, and one that stalls does not hold callers up for longer."""


def claim(
    db: Session,
    worker_id: str,
    *,
    ready_ttl_s: int,
    lease_s: float = 10.0,
    placement_wait_s: float = PLACEMENT_WAIT_S,
) -> list[str]:
    """Takes the oldest waiting sessions while this worker has free slots and is the least
    loaded live worker with a free slot (held calls per slot; ties go to whoever asks first);
    makes them READY. A session waiting longer than `placement_wait_s` goes to any worker with
    a free slot. Returns their ids. Run it inside `Database.write_session()`."""
    worker = db.get(MediaWorker, worker_id)
    if worker is None or worker.stopped_at is not None:
        return []
    held = held_counts(db, lease_s)
    mine = held.pop(worker_id, (held_count(db, worker_id), worker.slots))
    free = worker.slots - mine[0]
    if free <= 0:
        return []
    query = (
        select(RealtimeSession.id, RealtimeSession.created_at)
        .where(RealtimeSession.status == S.NOT_READY, RealtimeSession.worker_id.is_(None))
        .order_by(RealtimeSession.created_at, RealtimeSession.id)
        .limit(free)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    others = [count / slots for count, slots in held.values() if count < slots]
    overdue = utcnow() - timedelta(seconds=placement_wait_s)
    taken = mine[0]
    claimed: list[str] = []
    for session_id, created_at in db.execute(query).all():
        least_loaded = not others or taken / worker.slots <= min(others)
        if not least_loaded and created_at > overdue:
            break  # the rest are newer still: they wait for the less loaded workers too
        won = db.execute(
            update(RealtimeSession)
            .where(
                RealtimeSession.id == session_id,
                RealtimeSession.worker_id.is_(None),
                RealtimeSession.status == S.NOT_READY,
            )
            .values(worker_id=worker_id)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker was first
        session = db.get(RealtimeSession, session_id)
        assert session is not None
        db.refresh(session)
        make_ready(db, session, ready_ttl_s)
        claimed.append(session_id)
        taken += 1
    return claimed


def held_counts(db: Session, lease_s: float) -> dict[str, tuple[int, int]]:
    """Live workers: id → (calls held, slots)."""
    workers = live_workers(db, lease_s)
    if not workers:
        return {}
    counts = dict(
        db.execute(
            select(RealtimeSession.worker_id, func.count())
            .where(
                RealtimeSession.worker_id.in_([worker.id for worker in workers]),
                RealtimeSession.status.in_(HELD),
            )
            .group_by(RealtimeSession.worker_id)
        ).all()
    )
    return {worker.id: (int(counts.get(worker.id, 0)), worker.slots) for worker in workers}


def statuses(db: Session, session_ids: Sequence[str]) -> dict[str, str]:
    if not session_ids:
        return {}
    rows = db.execute(
        select(RealtimeSession.id, RealtimeSession.status).where(
            RealtimeSession.id.in_(list(session_ids))
        )
    )
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True, slots=True)
class LostSession:
    session_id: str
    organization_id: str
    was_running: bool


def sweep_lost(db: Session, lease_s: float, now: datetime | None = None) -> list[LostSession]:
    """Workers whose lease ran out are lost; their active sessions FAIL (WORKER_LOST) at the last
    moment each call was known alive, so `duration` is the time the call really ran. A lost
    worker that comes back finds its lease gone and cannot bring them back. Run it inside
    `Database.write_session()`. Returns the sessions failed here (their recordings are to be
    recovered)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=lease_s)
    expired = select(MediaWorker).where(
        MediaWorker.stopped_at.is_(None), MediaWorker.heartbeat_at <= cutoff
    )
    if db.get_bind().dialect.name == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    for worker in db.scalars(expired).all():
        worker.stopped_at = now
        worker.lost = True
    # Sessions left behind by any worker that is gone (lost now or before, or stopped without
    # failing them: a worker killed while stopping).
    gone = select(MediaWorker.id).where(MediaWorker.stopped_at.is_not(None))
    return fail_held(
        db,
        RealtimeSession.worker_id.in_(gone),
        failure="The media worker running this session stopped answering (it crashed or lost "
        "its connection to the database); the call ended there.",
        failure_code=WORKER_LOST,
        now=now,
    )


def fail_held(
    db: Session,
    held_by: ColumnElement[bool],
    *,
    failure: str,
    failure_code: str,
    now: datetime,
) -> list[LostSession]:
    """Active sessions matching `held_by` FAIL; a running call ends at its last sign of life."""
    active = RealtimeSession.status.in_([s.value for s in ACTIVE])
    failed = []
    for session in db.scalars(select(RealtimeSession).where(active, held_by)).all():
        was_running = session.status == S.RUNNING
        ended = session.alive_at if was_running and session.alive_at is not None else now
        set_status(db, session, S.FAILED, failure=failure, failure_code=failure_code, now=ended)
        failed.append(LostSession(session.id, session.organization_id, was_running))
    return failed


def fail_worker_sessions(
    db: Session, worker_id: str, *, failure: str, failure_code: str
) -> list[LostSession]:
    """A worker stopping cleanly fails the sessions it still holds (READY ones no call reached)."""
    return fail_held(
        db,
        RealtimeSession.worker_id == worker_id,
        failure=failure,
        failure_code=failure_code,
        now=utcnow(),
    )


def mark_queued(db: Session, lease_s: float) -> None:
    """Waiting sessions beyond the live workers' free slots say `queued: true`."""
    workers = live_workers(db, lease_s)
    ids = [worker.id for worker in workers]
    busy = (
        int(
            db.scalar(
                select(func.count())
                .select_from(RealtimeSession)
                .where(RealtimeSession.worker_id.in_(ids), RealtimeSession.status.in_(HELD))
            )
            or 0
        )
        if ids
        else 0
    )
    free = max(0, sum(worker.slots for worker in workers) - busy)
    waiting = db.scalars(
        select(RealtimeSession)
        .where(RealtimeSession.status == S.NOT_READY, RealtimeSession.worker_id.is_(None))
        .order_by(RealtimeSession.created_at, RealtimeSession.id)
    ).all()
    for position, session in enumerate(waiting):
        queued = position >= free
        if session.queued != queued:
            session.queued = queued


def worker_address(db: Session, session_id: str, lease_s: float) -> tuple[str | None, str | None]:
    """(worker id, address if its lease is live) of the worker holding the session."""
    session = db.get(RealtimeSession, session_id)
    if session is None or session.worker_id is None:
        return None, None
    worker = db.get(MediaWorker, session.worker_id)
    if worker is None or worker.stopped_at is not None:
        return session.worker_id, None
    if worker.heartbeat_at <= utcnow() - timedelta(seconds=lease_s):
        return session.worker_id, None
    return worker.id, worker.address
