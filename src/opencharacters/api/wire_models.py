"""The wire shapes of responses, as pydantic models for /openapi.json.

They describe what `store/responses.py` builds (Runway's shapes, field for field, plus the
extensions docs/api.md names). Unknown keys are forbidden, as in Runway's own spec, so the
Schemathesis run (tests/api/test_openapi_fuzz.py) fails when a response and its description
drift apart."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Wire):
    """Every error: what went wrong, naming the field and the limit."""

    error: str


class CreatedId(Wire):
    id: UUID


class PageFields(Wire):
    hasMore: bool
    nextCursor: str | None


# --- avatars -------------------------------------------------------------------------------


class AvatarPresetVoice(Wire):
    type: Literal["runway-live-preset"]
    presetId: str
    name: str
    description: str


class AvatarCustomVoice(Wire):
    type: Literal["custom"]
    id: UUID
    deleted: bool
    name: str | None = Field(default=None, description="Omitted when deleted")
    description: str | None = Field(default=None, description="Omitted when deleted")


class Avatar(Wire):
    id: UUID
    name: str
    personality: str
    startScript: str | None
    voice: AvatarPresetVoice | AvatarCustomVoice
    referenceImageUri: str | None
    processedImageUri: str | None
    documentIds: list[UUID]
    createdAt: str
    updatedAt: str
    status: Literal["PROCESSING", "READY", "FAILED"]
    failureReason: str | None = Field(default=None, description="Only and always on FAILED")


class AvatarPage(PageFields):
    data: list[Avatar]


class AvatarUsageDay(Wire):
    date: str
    sessions: int
    seconds: int


class AvatarUsage(Wire):
    totalSeconds: int
    totalSessions: int
    avgDurationSeconds: int
    byDay: list[AvatarUsageDay]


# --- documents -----------------------------------------------------------------------------


class DocumentUsedBy(Wire):
    id: UUID
    name: str
    imageUrl: str | None


class Document(Wire):
    id: UUID
    name: str
    type: Literal["text", "file"]
    content: str | None = Field(default=None, description="Omitted in list items")
    usedBy: list[DocumentUsedBy]
    createdAt: str
    updatedAt: str


class DocumentPage(PageFields):
    data: list[Document]


# --- realtime sessions ---------------------------------------------------------------------


class RealtimeSession(Wire):
    """One shape per status: `queued` (NOT_READY), `expiresAt` and `sessionKey` (READY),
    `duration` (COMPLETED), `failure` and `failureCode` (FAILED)."""

    id: UUID
    createdAt: str
    status: Literal["NOT_READY", "READY", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
    queued: bool | None = None
    expiresAt: str | None = None
    sessionKey: str | None = None
    duration: int | None = None
    failure: str | None = None
    failureCode: str | None = None


class MediaCredentials(Wire):
    url: str
    token: str
    roomName: str


# --- uploads, voices, tasks, keys ----------------------------------------------------------


class UploadFormFields(Wire):
    uploadId: UUID
    expires: str
    signature: str


class UploadStarted(Wire):
    runwayUri: str
    uploadUrl: str
    fields: UploadFormFields
    expiresAt: str = Field(description="Extension: when the URI stops working")


class CustomVoice(Wire):
    id: UUID
    name: str
    description: str | None
    createdAt: str
    status: Literal["PROCESSING", "READY", "FAILED"]
    previewUrl: str | None = Field(default=None, description="READY only")
    failureReason: str | None = Field(default=None, description="FAILED only")


class CustomVoicePage(PageFields):
    data: list[CustomVoice]


class VoicePreviewResult(Wire):
    url: str
    durationSecs: float
    attributes: dict[str, Any] = Field(description="Extension: how the description was read")
    note: str | None = None


class ApiKey(Wire):
    id: UUID
    name: str | None
    prefix: str
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None
    status: Literal["ACTIVE", "REVOKED"]
    current: bool
    key: str | None = Field(default=None, description="The secret: only in the create answer")


class ApiKeyList(Wire):
    data: list[ApiKey]


SUCCESS_MODELS: dict[tuple[str, str], type[Wire]] = {
    ("post", "/v1/avatars"): Avatar,
    ("get", "/v1/avatars"): AvatarPage,
    ("get", "/v1/avatars/{id}"): Avatar,
    ("patch", "/v1/avatars/{id}"): Avatar,
    ("get", "/v1/avatar_usage"): AvatarUsage,
    ("post", "/v1/documents"): Document,
    ("get", "/v1/documents"): DocumentPage,
    ("get", "/v1/documents/{id}"): Document,
    ("post", "/v1/realtime_sessions"): CreatedId,
    ("get", "/v1/realtime_sessions/{id}"): RealtimeSession,
    ("post", "/v1/realtime_sessions/{id}/consume"): MediaCredentials,
    ("post", "/v1/realtime_sessions/{id}/connect_backend"): MediaCredentials,
    ("post", "/v1/uploads"): UploadStarted,
    ("post", "/v1/voices"): CreatedId,
    ("get", "/v1/voices"): CustomVoicePage,
    ("get", "/v1/voices/{id}"): CustomVoice,
    ("patch", "/v1/voices/{id}"): CustomVoice,
    ("post", "/v1/voices/preview"): VoicePreviewResult,
    ("post", "/v1/avatar_videos"): CreatedId,
    ("get", "/v1/organization/api_keys"): ApiKeyList,
    ("post", "/v1/organization/api_keys"): ApiKey,
}
"""Operations whose success body these models describe (the others keep FastAPI's own)."""
