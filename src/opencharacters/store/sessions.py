"""Realtime sessions and their conversations; every status change passes `set_status`."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from opencharacters.domain.session_states import (
    ACTIVE,
    SessionStatus,
    conversation_status,
    transition,
)
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.session_events import session_changed
from opencharacters.store.tables import Avatar, Conversation, RealtimeSession

S = SessionStatus


def conversation_name(avatar_name: str, at: datetime) -> str:
    return f"{avatar_name} · {at:%b %d, %Y %H:%M} UTC"


def call_duration(started_at: datetime, ended_at: datetime, max_duration: int) -> int:
    """Whole seconds the call lasted, never more than its maxDuration.

    RUNNING is stamped when the media connects, while the worker's maxDuration timer starts a
    little later (once its pipeline is up) and the end is stamped after the goodbye is spoken;
    measured against the stamps, a call the worker stopped at its limit came out a second or two
    over (90 s reported as 92). The limit is what the worker enforces, so it bounds the figure."""
    seconds = max(0, round((ended_at - started_at).total_seconds()))
    return min(seconds, max_duration)


def create_session(
    db: Session,
    *,
    org_id: str,
    avatar: Avatar,
    max_duration: int,
    personality: str | None,
    start_script: str | None,
    tools: list[dict[str, Any]],
    integration: dict[str, Any] | None = None,
) -> RealtimeSession:
    now = utcnow()
    session = RealtimeSession(
        id=str(uuid.uuid4()),
        organization_id=org_id,
        avatar_id=avatar.id,
        status=S.NOT_READY,
        queued=False,
        max_duration=max_duration,
        personality=personality,
        start_script=start_script,
        tools=tools,
        integration=integration,
        created_at=now,
        updated_at=now,
    )
    db.add(session)
    db.add(
        Conversation(
            id=session.id,
            organization_id=org_id,
            avatar_id=avatar.id,
            name=conversation_name(avatar.name, now),
            status=conversation_status(S.NOT_READY),
            tools=tools,
            max_duration=max_duration,
            created_at=now,
        )
    )
    db.flush()
    return session


def set_status(
    db: Session,
    session: RealtimeSession,
    target: SessionStatus,
    *,
    failure: str | None = None,
    failure_code: str | None = None,
    now: datetime | None = None,
) -> None:
    """The one place a session changes status; the conversation follows in the same unit."""
    now = now or utcnow()
    session.status = transition(session.status, target)
    session.updated_at = now
    session.queued = False
    # The session key stays after READY (it can no longer be consumed: consumed_at and the
    # status say so), so that consume can check it before saying what became of the session.
    if target is S.RUNNING:
        session.started_at = now
    if target in (S.COMPLETED, S.CANCELLED, S.FAILED):
        session.ended_at = now
        # The media token stays, like the session key: a late offer with it is told the
        # session's state (409), one without it learns nothing (401).
        if session.started_at is not None:
            session.duration = call_duration(session.started_at, now, session.max_duration)
    if target is S.FAILED:
        session.failure = failure or "The session failed."
        session.failure_code = failure_code or "INTERNAL"
    conversation = db.get(Conversation, session.id)
    if conversation is not None:
        conversation.status = conversation_status(target)
        conversation.started_at = session.started_at
        conversation.ended_at = session.ended_at
        conversation.duration = session.duration
        conversation.failure = session.failure
        conversation.failure_code = session.failure_code
    session_changed(db, session, conversation)


def make_ready(db: Session, session: RealtimeSession, ttl_s: int) -> None:
    now = utcnow()
    set_status(db, session, S.READY, now=now)
    session.session_key = secrets.token_urlsafe(32)
    session.expires_at = now + timedelta(seconds=ttl_s)


def count_active(db: Session, org_id: str | None = None) -> int:
    query = select(func.count()).select_from(RealtimeSession)
    query = query.where(RealtimeSession.status.in_([s.value for s in ACTIVE]))
    if org_id is not None:
        query = query.where(RealtimeSession.organization_id == org_id)
    return int(db.scalar(query) or 0)


def expire_ready(db: Session, now: datetime | None = None) -> None:
    """READY sessions whose credentials expired FAIL: never consumed, or consumed but never
    connected."""
    now = now or utcnow()
    for session in db.scalars(
        select(RealtimeSession).where(
            RealtimeSession.status == S.READY, RealtimeSession.expires_at <= now
        )
    ):
        if session.consumed_at is None:
            set_status(
                db,
                session,
                S.FAILED,
                failure="The session was not consumed before its credentials expired.",
                failure_code="SESSION_EXPIRED",
                now=now,
            )
        else:
            set_status(
                db,
                session,
                S.FAILED,
                failure="The caller consumed the credentials but never connected.",
                failure_code="CONNECTION_TIMEOUT",
                now=now,
            )


def fail_interrupted(db: Session) -> int:
    """READY or RUNNING sessions no media worker holds (left by a version that ran calls in the
    API process) end as FAILED; their transcripts stay. Sessions of workers are theirs: an API
    restart takes no call with it (a lost worker's sessions FAIL through its lease)."""
    count = 0
    for session in db.scalars(
        select(RealtimeSession).where(
            RealtimeSession.status.in_([S.READY.value, S.RUNNING.value]),
            RealtimeSession.worker_id.is_(None),
        )
    ):
        set_status(
            db,
            session,
            S.FAILED,
            failure="The server restarted while this session was active.",
            failure_code="SERVER_RESTARTED",
        )
        count += 1
    return count


def cancel_for_avatar(db: Session, avatar_id: str) -> int:
    count = 0
    for session in db.scalars(
        select(RealtimeSession)
        .where(
            RealtimeSession.avatar_id == avatar_id,
            RealtimeSession.status.in_([s.value for s in ACTIVE]),
        )
        .with_for_update()
    ):
        set_status(db, session, S.CANCELLED)
        count += 1
    return count


def mark_consumed(db: Session, session: RealtimeSession) -> str:
    """Consumes the session key once; returns the token for the media connection, or "" when
    another request consumed it first or the session left READY meanwhile.

    One conditional UPDATE decides: concurrent consumers queue on the row's lock (the database's
    write lock on SQLite) and only the first still finds it READY and unconsumed."""
    token = secrets.token_urlsafe(32)
    result = db.execute(
        update(RealtimeSession)
        .where(
            RealtimeSession.id == session.id,
            RealtimeSession.status == S.READY,
            RealtimeSession.consumed_at.is_(None),
        )
        .values(consumed_at=utcnow(), connect_token=token)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return ""
    db.refresh(session)
    return token
