"""Transcript entries and recordings of a conversation, written while the call goes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opencharacters.store.session_events import recording_ready
from opencharacters.store.tables import Conversation, TranscriptEntry

MAX_ENTRIES = 1000
"""Runway's schema caps a transcript at 1,000 entries; later ones are not stored."""


def append_entry(
    db: Session,
    conversation_id: str,
    *,
    role: str,
    content: str | None,
    timestamp: datetime | None,
    interrupted: bool = False,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_results: list[dict[str, Any]] | None = None,
) -> int | None:
    """Appends one entry and returns its sequence number (None past the cap)."""
    last = db.scalar(
        select(func.max(TranscriptEntry.seq)).where(
            TranscriptEntry.conversation_id == conversation_id
        )
    )
    seq = int(last or 0) + 1
    if seq > MAX_ENTRIES:
        return None
    db.add(
        TranscriptEntry(
            conversation_id=conversation_id,
            seq=seq,
            role=role,
            content=content,
            timestamp=timestamp,
            interrupted=interrupted,
            tool_calls=tool_calls,
            tool_results=tool_results,
        )
    )
    db.flush()
    return seq


def revise_entry(
    db: Session,
    conversation_id: str,
    seq: int,
    *,
    content: str | None,
    interrupted: bool = False,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_results: list[dict[str, Any]] | None = None,
) -> None:
    """Rewrites an entry still being spoken (the avatar's words, written as they are heard)."""
    entry = db.scalar(
        select(TranscriptEntry).where(
            TranscriptEntry.conversation_id == conversation_id, TranscriptEntry.seq == seq
        )
    )
    if entry is None:
        return
    entry.content = content
    entry.interrupted = interrupted
    entry.tool_calls = tool_calls
    entry.tool_results = tool_results
    db.flush()


def set_recording(db: Session, conversation_id: str, blob_key: str) -> None:
    conversation = db.get(Conversation, conversation_id)
    if conversation is not None:
        already = conversation.recording_blob is not None
        conversation.recording_blob = blob_key
        if not already and conversation.status != "in_progress":
            # Stored after the call ended: the session's end already reported the transcript.
            recording_ready(db, conversation)
