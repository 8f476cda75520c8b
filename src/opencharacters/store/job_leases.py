"""Leases on background jobs, so that several API processes on one database run each job once.

A node claims a job with one upsert that succeeds only when no row exists or the row's lease ran
out; the token it writes is its proof. It renews the lease while working. Its final write runs
`holds` in the same transaction (the row locked FOR UPDATE on PostgreSQL, the database write
lock on SQLite), so a node whose lease was taken over (it stalled, or was thought dead) cannot
overwrite the result of the node that took over. Times are the nodes' clocks, as for the media
workers' leases: keep them in sync (NTP)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opencharacters.domain.timefmt import utcnow
from opencharacters.store.tables import JobLease

HOLDER = f"{socket.gethostname()[:200]}:{os.getpid()}"
STALE_AFTER = timedelta(hours=1)
"""Rows of jobs nobody finished (the job was deleted while its node was down) go after this."""


def claim(db: Session, kind: str, key: str, lease_s: float, now: datetime | None = None) -> str:
    """The new lease's token, or "" when another node holds a live lease on the job."""
    now = now or utcnow()
    token = str(uuid.uuid4())
    expires = now + timedelta(seconds=lease_s)
    values = {"kind": kind, "key": key, "token": token, "holder": HOLDER, "expires_at": expires}
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(JobLease)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[JobLease.kind, JobLease.key],
            set_={"token": token, "holder": HOLDER, "expires_at": expires},
            where=JobLease.expires_at <= now,
        )
        .returning(JobLease.token)
    )
    won = db.execute(statement).scalar()
    return token if won == token else ""


def renew(db: Session, kind: str, key: str, token: str, lease_s: float) -> bool:
    """False when the lease is no longer this token's (taken over, or released)."""
    result = db.execute(
        update(JobLease)
        .where(JobLease.kind == kind, JobLease.key == key, JobLease.token == token)
        .values(expires_at=utcnow() + timedelta(seconds=lease_s))
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def holds(db: Session, kind: str, key: str, token: str) -> bool:
    """Whether `token` still holds the job; locks the lease row until the transaction ends, so
    nobody can take it over between this check and the write it guards."""
    row = db.scalar(
        select(JobLease).where(JobLease.kind == kind, JobLease.key == key).with_for_update()
    )
    return row is not None and row.token == token


def release(db: Session, kind: str, key: str, token: str) -> None:
    db.execute(
        delete(JobLease).where(JobLease.kind == kind, JobLease.key == key, JobLease.token == token)
    )


def live_keys(db: Session, kind: str, now: datetime | None = None) -> set[str]:
    """Keys of this kind's jobs some node holds now."""
    return set(
        db.scalars(
            select(JobLease.key).where(
                JobLease.kind == kind, JobLease.expires_at > (now or utcnow())
            )
        )
    )


def forget_stale(db: Session, now: datetime | None = None) -> None:
    db.execute(delete(JobLease).where(JobLease.expires_at <= (now or utcnow()) - STALE_AFTER))
