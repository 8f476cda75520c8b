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
from opencharacters.store.tables import Avatar, Conversation, RealtimeSession

S = SessionStatus


def conversation_name(avatar_name: str, at: datetime) -> str:
    return f"{avatar_name} · {at:%b %d, %Y %H:%M} UTC"


def create_session(
    db: Session,
    *,
    org_id: str,
    avatar: Avatar,
    max_duration: int,
    personality: str | None,
    start_script: str | None,
    tools: list[dict[str, Any]],
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
    if target is not S.READY:
        session.session_key = None
    if target is S.RUNNING:
        session.started_at = now
    if target in (S.COMPLETED, S.CANCELLED, S.FAILED):
        session.ended_at = now
        session.connect_token = None
        if session.started_at is not None:
            session.duration = max(0, round((now - session.started_at).total_seconds()))
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
        select(RealtimeSession).where(
            RealtimeSession.avatar_id == avatar_id,
            RealtimeSession.status.in_([s.value for s in ACTIVE]),
        )
    ):
        set_status(db, session, S.CANCELLED)
        count += 1
    return count


def mark_consumed(db: Session, session: RealtimeSession) -> str:
    """Consumes the session key once; returns the token for the media connection."""
    token = secrets.token_urlsafe(32)
    result = db.execute(
        update(RealtimeSession)
        .where(RealtimeSession.id == session.id, RealtimeSession.consumed_at.is_(None))
        .values(consumed_at=utcnow(), connect_token=token)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return ""
    db.refresh(session)
    return token
