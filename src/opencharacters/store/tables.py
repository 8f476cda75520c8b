"""The relational schema. Every change here comes with an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from opencharacters.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    # Limits set by the operator (`opencharacters orgs limits`); None means the server default.
    max_concurrent_sessions: Mapped[int | None]
    max_sessions_per_day: Mapped[int | None]
    max_session_minutes_per_month: Mapped[int | None]
    max_avatar_videos_per_day: Mapped[int | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    blob_key: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Avatar(Base):
    __tablename__ = "avatars"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    personality: Mapped[str] = mapped_column(Text)
    start_script: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[dict[str, Any]]
    image_processing: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The image a caller gave is kept as a blob, never as the (possibly 5 MB) URI string.
    reference_source: Mapped[str | None] = mapped_column(Text)
    reference_blob: Mapped[str | None] = mapped_column(String(255))
    reference_preview_blob: Mapped[str | None] = mapped_column(String(255))
    processed_blob: Mapped[str | None] = mapped_column(String(255))
    processed_preview_blob: Mapped[str | None] = mapped_column(String(255))
    face: Mapped[dict[str, Any] | None]
    # Extension: caller-supplied eye and mouth-corner points for faces no detector finds.
    face_points: Mapped[dict[str, Any] | None]
    rig_blob: Mapped[str | None] = mapped_column(String(255))
    # Bumped whenever the image changes, so a stale background job cannot overwrite a newer one.
    image_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_avatars_org_created", "organization_id", "created_at", "id"),)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AvatarDocument(Base):
    __tablename__ = "avatar_documents"
    avatar_id: Mapped[str] = mapped_column(
        ForeignKey("avatars.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int]


class RealtimeSession(Base):
    __tablename__ = "realtime_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # No foreign key: a session outlives its avatar (the avatar's deletion cancels it).
    avatar_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    queued: Mapped[bool] = mapped_column(Boolean, default=False)
    max_duration: Mapped[int]
    personality: Mapped[str | None] = mapped_column(Text)
    start_script: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[list[Any]]
    session_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]
    connect_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration: Mapped[int | None]
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The media worker holding the session (claimed when it became READY), the last moment its
    # call was known alive (the worker's heartbeat; a crash ends the call there), and the token
    # of the developer's backend link (connect_backend), checked by whichever process serves it.
    worker_id: Mapped[str | None] = mapped_column(String(36), index=True)
    alive_at: Mapped[datetime | None]
    backend_token: Mapped[str | None] = mapped_column(String(64))
    # `integration: {type: "livekit", url, token, roomName, agentIdentity?}` (or the deprecated
    # `livekit` field): the avatar joins that room as the face of the developer's agent.
    integration: Mapped[dict[str, Any] | None]


class MediaWorker(Base):
    """A media-worker process: where it is reached, how many calls it takes, its lease."""

    __tablename__ = "media_workers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    """Its internal HTTP endpoint (WHIP offers, hang-ups and call control are forwarded there)."""
    slots: Mapped[int]
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
    """Set when it stopped cleanly, or when its lease ran out (then `lost` too)."""
    lost: Mapped[bool] = mapped_column(Boolean, default=False)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    avatar_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    tools: Mapped[list[Any]]
    max_duration: Mapped[int | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration: Mapped[int | None]
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    recording_blob: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_conversations_org_created", "organization_id", "created_at", "id"),)


class TranscriptEntry(Base):
    __tablename__ = "transcript_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime | None]
    tool_calls: Mapped[list[Any] | None]
    tool_results: Mapped[list[Any] | None]
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)


class Task(Base):
    """Asynchronous work a caller polls with GET /v1/tasks/{id} (avatar videos)."""

    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(default=0.0)
    # What to do: the avatar id and the speech (text and voice, or the staged audio's blob).
    spec: Mapped[dict[str, Any]]
    output_blob: Mapped[str | None] = mapped_column(String(255))
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Voice(Base):
    """A custom voice: designed from a description or cloned from a sample. Deleting one keeps
    a tombstone (deleted_at, no name or data) so avatars still using it can show `deleted: true`
    and speak with its nearest preset."""

    __tablename__ = "voices"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # "text" (prompt + model) or "audio" (sample source: an https URL, or a staged blob).
    source_type: Mapped[str] = mapped_column(String(8))
    prompt: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(64))
    sample_source: Mapped[str | None] = mapped_column(Text)
    sample_blob: Mapped[str | None] = mapped_column(String(255))
    # What was read or measured (attributes, measurements, fit rounds) and what the builder uses.
    analysis: Mapped[dict[str, Any] | None]
    design: Mapped[dict[str, Any] | None]
    # The model the voice is made from (engines.tts.piper_voices name, or a speech server's
    # voice): None = the default (Piper joe). Copied into the design when it is made.
    base_model: Mapped[str | None] = mapped_column(String(64))
    fallback_preset: Mapped[str | None] = mapped_column(String(32))
    preview_blob: Mapped[str | None] = mapped_column(String(255))
    preview_duration_s: Mapped[float | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_voices_org_created", "organization_id", "created_at", "id"),)


class UsageRecord(Base):
    """Metered use, one row per finished thing (a session's seconds, a video, a voice), kept
    when the thing itself is deleted. Unique per (model, subject) so metering twice is harmless."""

    __tablename__ = "usage_records"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[float]
    occurred_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("model", "subject_id"),
        Index("ix_usage_records_org_occurred", "organization_id", "occurred_at"),
    )


class WebhookEndpoint(Base):
    """Extension: where an organization wants its events delivered."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    # Event types to deliver; an empty list means every type.
    event_types: Mapped[list[Any]]
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEvent(Base):
    """An event, written in the same transaction as the change it reports. The integer id
    orders events; `ordering_key` (a session's id, an avatar's…) groups those that must
    arrive in order."""

    __tablename__ = "webhook_events"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """The outbox: one row per (event, endpoint), claimed by one process at a time with a lease."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhook_events.seq", ondelete="CASCADE"),
        index=True,
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    ordering_key: Mapped[str] = mapped_column(String(64))
    # PENDING (waiting or retrying) -> SUCCEEDED | FAILED (attempts exhausted or endpoint gone).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(36))
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "event_seq"),
    )


class WebhookAttempt(Base):
    """The delivery log: every try, with what the receiver answered and how fast."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    response_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)


class JobLease(Base):
    """Which API process runs a background job now (avatar processing, a voice, a video task).

    A node claims a job by taking its row when it is free or its lease ran out; it renews the
    lease while it works, and its final write counts only while the token is still its own."""

    __tablename__ = "job_leases"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    holder: Mapped[str] = mapped_column(String(255))
    """host:pid of the claiming process (for operators reading the table)."""
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateBucket(Base):
    """A token bucket shared by every API process (PostgreSQL only; UNLOGGED there: losing the
    buckets in a crash only refills them)."""

    __tablename__ = "rate_buckets"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[datetime]
