"""Wire shapes of every resource, exactly as Runway's SDKs parse them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opencharacters.domain.preset_characters import PRESETS_BY_AVATAR_ID
from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import iso
from opencharacters.domain.voices import PRESETS_BY_ID
from opencharacters.store.tables import (
    Avatar,
    Conversation,
    Document,
    RealtimeSession,
    TranscriptEntry,
    Voice,
)

BlobUrl = Callable[[str | None], str | None]


def voice_json(voice: dict[str, Any], custom_lookup: Callable[[str], Any] | None = None) -> Any:
    if voice["type"] == "runway-live-preset":
        preset = PRESETS_BY_ID[voice["presetId"]]
        return {
            "type": "runway-live-preset",
            "presetId": preset.id,
            "name": preset.name,
            "description": preset.description,
        }
    found = custom_lookup(voice["id"]) if custom_lookup else None
    if found is None:
        return {"type": "custom", "id": voice["id"], "deleted": True}
    return {
        "type": "custom",
        "id": voice["id"],
        "deleted": False,
        "name": found.name,
        "description": found.description,
    }


def avatar_json(
    avatar: Avatar,
    document_ids: Sequence[str],
    blob_url: BlobUrl,
    custom_voice_lookup: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": avatar.id,
        "name": avatar.name,
        "personality": avatar.personality,
        "startScript": avatar.start_script,
        "voice": voice_json(avatar.voice, custom_voice_lookup),
        "referenceImageUri": blob_url(avatar.reference_preview_blob),
        "processedImageUri": blob_url(avatar.processed_preview_blob),
        "documentIds": list(document_ids),
        "createdAt": iso(avatar.created_at),
        "updatedAt": iso(avatar.updated_at),
        "status": avatar.status,
    }
    if avatar.status == "FAILED":
        body["failureReason"] = avatar.failure_reason or "Processing failed."
    return body


def document_json(
    document: Document,
    used_by: Sequence[tuple[Avatar, str | None]],
    *,
    with_content: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": document.id,
        "name": document.name,
        "type": document.type,
        "usedBy": [
            {"id": avatar.id, "name": avatar.name, "imageUrl": image_url}
            for avatar, image_url in used_by
        ],
        "createdAt": iso(document.created_at),
        "updatedAt": iso(document.updated_at),
    }
    if with_content:
        body["content"] = document.content
    return body


def session_json(session: RealtimeSession) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": session.id,
        "createdAt": iso(session.created_at),
        "status": session.status,
    }
    status = SessionStatus(session.status)
    if status is SessionStatus.NOT_READY:
        body["queued"] = session.queued
    elif status is SessionStatus.READY:
        body["expiresAt"] = iso(session.expires_at)
        body["sessionKey"] = session.session_key
    elif status is SessionStatus.COMPLETED:
        body["duration"] = session.duration or 0
    elif status is SessionStatus.FAILED:
        body["failure"] = session.failure or "The session failed."
        body["failureCode"] = session.failure_code or "INTERNAL"
    return body


def tool_summaries(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": tool["type"], "name": tool["name"], "description": tool["description"]}
        for tool in tools
    ]


def conversation_avatar(
    conversation: Conversation, avatar: Avatar | None, image_url: str | None, *, detail: bool
) -> dict[str, Any]:
    preset = PRESETS_BY_AVATAR_ID.get(conversation.avatar_id)
    if preset is not None:
        # List items carry the display name (Runway's "Mina"); the detail's preset shape is
        # {type, presetId}, to which name and imageUrl are added as extensions.
        found: dict[str, Any] = {
            "type": "runway-preset",
            "presetId": preset.id,
            "name": preset.name,
        }
        if detail:
            found["imageUrl"] = image_url
        return found
    body: dict[str, Any] = {
        "type": "custom",
        "id": conversation.avatar_id,
        "name": avatar.name if avatar else None,
    }
    if detail:
        body["imageUrl"] = image_url if avatar else None
    return body


def conversation_list_item_json(
    conversation: Conversation, avatar: Avatar | None
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "name": conversation.name,
        "status": conversation.status,
        "avatar": conversation_avatar(conversation, avatar, None, detail=False),
        "createdAt": iso(conversation.created_at),
        "duration": conversation.duration,
        "hasTools": bool(conversation.tools),
    }


def transcript_entry_json(entry: TranscriptEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "role": entry.role,
        "content": entry.content,
        "timestamp": iso(entry.timestamp),
    }
    if entry.role == "assistant":
        if entry.tool_calls:
            body["toolCalls"] = entry.tool_calls
        if entry.tool_results:
            body["toolResults"] = entry.tool_results
        if entry.interrupted:
            body["interrupted"] = True  # extension: the caller cut this answer off here
    return body


def conversation_json(
    conversation: Conversation,
    avatar: Avatar | None,
    avatar_image_url: str | None,
    transcript: Sequence[TranscriptEntry],
    recording_url: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": conversation.id,
        "name": conversation.name,
        "status": conversation.status,
        "avatar": conversation_avatar(conversation, avatar, avatar_image_url, detail=True),
        "createdAt": iso(conversation.created_at),
        "startedAt": iso(conversation.started_at),
        "duration": conversation.duration,
        "maxDuration": conversation.max_duration,
        "recordingUrl": recording_url,
        "tools": tool_summaries(conversation.tools),
        "transcript": [transcript_entry_json(entry) for entry in transcript[:1000]],
    }
    if conversation.status != "in_progress":
        body["endedAt"] = iso(conversation.ended_at)
    if conversation.status == "failed":
        body["failure"] = conversation.failure or "The session failed."
        body["failureCode"] = conversation.failure_code or "INTERNAL"
    return body


def custom_voice_json(voice: Voice, preview_url: str | None) -> dict[str, Any]:
    """A custom voice (PROCESSING | READY | FAILED), as Runway's SDK parses it."""
    body: dict[str, Any] = {
        "id": voice.id,
        "name": voice.name,
        "description": voice.description,
        "createdAt": iso(voice.created_at),
        "status": voice.status,
    }
    if voice.base_model is not None:
        body["baseModel"] = voice.base_model  # ours; only present when it was given
    if voice.status == "READY":
        body["previewUrl"] = preview_url
    elif voice.status == "FAILED":
        body["failureReason"] = voice.failure_reason or "Processing failed."
    return body
