"""What a session's status change sets off, in the same transaction: its webhook events (the
status, then at the end the finished conversation and its recording) and its metered seconds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.store.tables import Conversation, RealtimeSession, TranscriptEntry
from opencharacters.store.usage import Model, meter
from opencharacters.store.webhook_events import (
    SESSION_EVENTS,
    EventType,
    conversation_event_data,
    session_event_data,
)
from opencharacters.store.webhooks import emit


def session_changed(
    db: Session, session: RealtimeSession, conversation: Conversation | None
) -> None:
    status = SessionStatus(session.status)
    event = SESSION_EVENTS.get(status.value)
    if event is not None:
        emit(
            db, session.organization_id, event, session_event_data(session), ordering_key=session.id
        )
    if status not in TERMINAL or session.started_at is None:
        return  # only a call that connected has seconds, a transcript and a recording
    meter(
        db,
        session.organization_id,
        Model.AVATARS,
        session.id,
        session.duration or 0,
        session.ended_at or session.updated_at,
    )
    if conversation is None:
        return
    transcript = list(
        db.scalars(
            select(TranscriptEntry)
            .where(TranscriptEntry.conversation_id == conversation.id)
            .order_by(TranscriptEntry.seq)
        )
    )
    emit(
        db,
        session.organization_id,
        EventType.CONVERSATION_READY,
        conversation_event_data(conversation, transcript),
        ordering_key=session.id,
    )
    if conversation.recording_blob is not None:
        recording_ready(db, conversation)


def recording_ready(db: Session, conversation: Conversation) -> None:
    emit(
        db,
        conversation.organization_id,
        EventType.RECORDING_READY,
        {"id": conversation.id, "sessionId": conversation.id, "avatarId": conversation.avatar_id},
        ordering_key=conversation.id,
    )
