"""Webhook event types (an extension; Runway's API has none) and the data each one carries.

The data is the resource as the API shows it, minus secrets (a READY session's sessionKey) and
signed URLs (they expire; a receiver fetches the resource for a fresh one)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from opencharacters.domain.timefmt import iso
from opencharacters.store.responses import session_json, transcript_entry_json
from opencharacters.store.tables import (
    Avatar,
    Conversation,
    RealtimeSession,
    Task,
    TranscriptEntry,
    Voice,
)


class EventType(StrEnum):
    SESSION_READY = "session.ready"
    SESSION_RUNNING = "session.running"
    SESSION_COMPLETED = "session.completed"
    SESSION_FAILED = "session.failed"
    SESSION_CANCELLED = "session.cancelled"
    CONVERSATION_READY = "conversation.ready"
    RECORDING_READY = "conversation.recording_ready"
    AVATAR_READY = "avatar.ready"
    AVATAR_FAILED = "avatar.failed"
    VOICE_READY = "voice.ready"
    VOICE_FAILED = "voice.failed"
    TASK_SUCCEEDED = "task.succeeded"
    TASK_FAILED = "task.failed"
    TEST = "webhook.test"


EVENT_DESCRIPTIONS: dict[EventType, str] = {
    EventType.SESSION_READY: "A realtime session's credentials can be consumed.",
    EventType.SESSION_RUNNING: "The caller connected; the call is live.",
    EventType.SESSION_COMPLETED: "The call ended normally.",
    EventType.SESSION_FAILED: "The session failed (failure and failureCode say why).",
    EventType.SESSION_CANCELLED: "The session was cancelled.",
    EventType.CONVERSATION_READY: "A call's transcript is complete.",
    EventType.RECORDING_READY: "A call's recording can be downloaded.",
    EventType.AVATAR_READY: "An avatar's image was processed; it can take calls.",
    EventType.AVATAR_FAILED: "An avatar's image could not be processed.",
    EventType.VOICE_READY: "A custom voice is ready.",
    EventType.VOICE_FAILED: "A custom voice could not be made.",
    EventType.TASK_SUCCEEDED: "A task (an avatar video) finished; its output can be fetched.",
    EventType.TASK_FAILED: "A task failed.",
    EventType.TEST: "Sent on request, to try an endpoint.",
}

SESSION_EVENTS: dict[str, EventType] = {
    "READY": EventType.SESSION_READY,
    "RUNNING": EventType.SESSION_RUNNING,
    "COMPLETED": EventType.SESSION_COMPLETED,
    "FAILED": EventType.SESSION_FAILED,
    "CANCELLED": EventType.SESSION_CANCELLED,
}


def session_event_data(session: RealtimeSession) -> dict[str, Any]:
    body = session_json(session)
    body.pop("sessionKey", None)
    body["avatarId"] = session.avatar_id
    body["maxDuration"] = session.max_duration
    if session.started_at is not None:
        body["startedAt"] = iso(session.started_at)
    if session.ended_at is not None:
        body["endedAt"] = iso(session.ended_at)
    return body


def conversation_event_data(
    conversation: Conversation, transcript: Sequence[TranscriptEntry]
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "sessionId": conversation.id,
        "avatarId": conversation.avatar_id,
        "name": conversation.name,
        "status": conversation.status,
        "startedAt": iso(conversation.started_at),
        "endedAt": iso(conversation.ended_at),
        "duration": conversation.duration,
        "transcript": [transcript_entry_json(entry) for entry in transcript],
        "hasRecording": conversation.recording_blob is not None,
    }


def avatar_event_data(avatar: Avatar) -> dict[str, Any]:
    body: dict[str, Any] = {"id": avatar.id, "name": avatar.name, "status": avatar.status}
    if avatar.status == "FAILED":
        body["failureReason"] = avatar.failure_reason or "Processing failed."
    return body


def voice_event_data(voice: Voice) -> dict[str, Any]:
    body: dict[str, Any] = {"id": voice.id, "name": voice.name, "status": voice.status}
    if voice.status == "FAILED":
        body["failureReason"] = voice.failure_reason or "Processing failed."
    return body


def task_event_data(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "kind": task.kind,
        "status": task.status,
        "createdAt": iso(task.created_at),
    }
    if task.status == "FAILED":
        body["failure"] = task.failure or "The task failed."
        body["failureCode"] = task.failure_code
    return body
