"""Custom voice rows, and what avatars, videos and sessions speak with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.domain.errors import BadRequest, NotFound
from opencharacters.domain.voice_designs import VoiceDesign, design_from_json
from opencharacters.store.tables import Voice

DEFAULT_FALLBACK_PRESET = "sam"
"""Speaks for a custom voice that has no design (never READY) and no nearest preset."""


def get_voice(db: Session, org_id: str, voice_id: str, *, for_update: bool = False) -> Voice:
    voice = db.get(Voice, voice_id, with_for_update=for_update)
    if voice is None or voice.organization_id != org_id or voice.deleted_at is not None:
        raise NotFound(f"Voice {voice_id} not found.")
    return voice


def usable_custom_voice(db: Session, org_id: str, voice_id: str, field: str) -> Voice:
    """A READY custom voice of this organization, or a 400 naming the field and the reason."""
    try:
        voice = get_voice(db, org_id, voice_id)
    except NotFound:
        raise BadRequest(f"{field}: custom voice {voice_id} not found") from None
    if voice.status != "READY":
        raise BadRequest(
            f"{field}: custom voice {voice_id} is {voice.status}; only READY voices can be used"
        )
    return voice


def live_voices(db: Session, org_id: str, voice_ids: Iterable[str]) -> dict[str, Voice]:
    """The custom voices among `voice_ids` that still exist (deleted ones are absent)."""
    wanted = sorted(set(voice_ids))
    if not wanted:
        return {}
    rows = db.scalars(
        select(Voice).where(
            Voice.id.in_(wanted), Voice.organization_id == org_id, Voice.deleted_at.is_(None)
        )
    )
    return {voice.id: voice for voice in rows}


def custom_voice_ids(voices: Iterable[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in voices if v.get("type") == "custom" and "id" in v]


@dataclass(frozen=True, slots=True)
class ResolvedVoice:
    voice: str | VoiceDesign
    """What the synthesizer takes: a preset id or a custom voice's design."""
    fallback: bool
    """True when a deleted (or unusable) custom voice is replaced by a preset."""
    reason: str | None = None


def resolve_voice(db: Session, org_id: str, ref: dict[str, Any]) -> ResolvedVoice:
    """What an avatar's stored `voice` (or a request's) speaks with. A deleted custom voice
    speaks with the preset nearest to it (kept on its tombstone), never fails the call."""
    if ref.get("type") in ("runway-live-preset", "preset"):
        return ResolvedVoice(str(ref["presetId"]), False)
    row = db.get(Voice, str(ref.get("id")))
    if row is None or row.organization_id != org_id:
        return ResolvedVoice(DEFAULT_FALLBACK_PRESET, True, "the custom voice does not exist")
    fallback = row.fallback_preset or DEFAULT_FALLBACK_PRESET
    if row.deleted_at is not None:
        return ResolvedVoice(fallback, True, "the custom voice was deleted")
    if row.status != "READY" or not row.design:
        return ResolvedVoice(fallback, True, f"the custom voice is {row.status}")
    return ResolvedVoice(design_from_json(row.design), False)
