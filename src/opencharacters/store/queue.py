"""Where sessions stand in the wait for a call slot (an OpenCharacters extension of the API).

The scheduler (store/sessions.py `schedule`) promotes waiting sessions oldest first while the
server's slots allow; these queries tell a waiting caller how far back it is, and an
organization which of its sessions are holding or waiting for slots."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from opencharacters.domain.session_states import ACTIVE
from opencharacters.domain.session_states import SessionStatus as S
from opencharacters.store.tables import RealtimeSession


@dataclass(frozen=True, slots=True)
class QueuePlace:
    position: int
    """1: the next session to get a slot."""
    ahead: int
    """Sessions before this one: those holding slots (READY or RUNNING, any organization) and
    those waiting since earlier."""


def queue_place(db: Session, session: RealtimeSession) -> QueuePlace:
    count = select(func.count()).select_from(RealtimeSession)
    busy = db.scalar(count.where(RealtimeSession.status.in_([S.READY, S.RUNNING]))) or 0
    earlier = db.scalar(
        count.where(
            RealtimeSession.status == S.NOT_READY,
            or_(
                RealtimeSession.created_at < session.created_at,
                and_(
                    RealtimeSession.created_at == session.created_at,
                    RealtimeSession.id < session.id,
                ),
            ),
        )
    )
    waiting_before = int(earlier or 0)
    return QueuePlace(position=waiting_before + 1, ahead=int(busy) + waiting_before)


def active_sessions(db: Session, org_id: str) -> list[RealtimeSession]:
    """The organization's sessions that wait for, hold or use a call slot, newest first."""
    return list(
        db.scalars(
            select(RealtimeSession)
            .where(
                RealtimeSession.organization_id == org_id,
                RealtimeSession.status.in_([s.value for s in ACTIVE]),
            )
            .order_by(RealtimeSession.created_at.desc(), RealtimeSession.id.desc())
        )
    )
