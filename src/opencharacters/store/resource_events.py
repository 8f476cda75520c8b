"""What an avatar's or a custom voice's processing end sets off, in the same transaction:
its webhook event (and, for a voice, its metering)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from opencharacters.store.tables import Avatar, Voice
from opencharacters.store.usage import Model, meter
from opencharacters.store.webhook_events import EventType, avatar_event_data, voice_event_data
from opencharacters.store.webhooks import emit


def avatar_changed(db: Session, avatar: Avatar) -> None:
    event = EventType.AVATAR_READY if avatar.status == "READY" else EventType.AVATAR_FAILED
    emit(db, avatar.organization_id, event, avatar_event_data(avatar), ordering_key=avatar.id)


def voice_changed(db: Session, voice: Voice) -> None:
    if voice.status == "READY":
        meter(db, voice.organization_id, Model.VOICE_PROCESSING, voice.id, 1, voice.updated_at)
        event = EventType.VOICE_READY
    else:
        event = EventType.VOICE_FAILED
    emit(db, voice.organization_id, event, voice_event_data(voice), ordering_key=voice.id)
