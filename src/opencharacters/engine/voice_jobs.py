"""Custom voices in the background: PROCESSING -> READY | FAILED.

A designed voice: description -> attributes (dialogue model + rules) -> builder design.
A cloned voice: sample -> decoded, checked, measured -> fitted builder design.
Either way the voice ends with an MP3 preview in the blob store."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from opencharacters.domain.timefmt import utcnow
from opencharacters.domain.voice_designs import VoiceDesign, design_to_json
from opencharacters.engine.background import JobRunner, LeaseLost, check_lease
from opencharacters.ingest.fetch import FetchError, fetch_https, policy_from_settings
from opencharacters.settings import Settings
from opencharacters.speech.previews import (
    CUSTOM_PREVIEW_CLONE_SENTENCE,
    render_design_preview,
)
from opencharacters.speech.voice_builder import design_from_attributes, nearest_preset
from opencharacters.speech.voice_cloning import (
    MAX_SAMPLE_BYTES,
    CloneRejected,
    decode_sample,
    load_cloner,
)
from opencharacters.speech.voice_prompts import RENDERED_ACCENTS, parse_prompt
from opencharacters.store.resource_events import voice_changed
from opencharacters.store.tables import Voice

log = logging.getLogger(__name__)


def voice_blob_prefix(org_id: str, voice_id: str) -> str:
    return f"orgs/{org_id}/voices/{voice_id}"


def design_from_prompt(prompt: str, settings: Settings) -> tuple[VoiceDesign, dict[str, Any]]:
    attributes, how = parse_prompt(prompt, settings.engines)
    analysis: dict[str, Any] = {"attributes": attributes.as_dict(), "parsedBy": how}
    if attributes.accent not in RENDERED_ACCENTS:
        analysis["note"] = (
            f"The {attributes.accent} accent was understood but the embedded speech engine "
            "speaks General American only."
        )
    return design_from_attributes(attributes), analysis


class VoiceProcessor(JobRunner):
    kind = "voice"

    def _unfinished(self) -> list[str]:
        with self.db.session() as db:
            return list(
                db.scalars(
                    select(Voice.id).where(Voice.status == "PROCESSING", Voice.deleted_at.is_(None))
                )
            )

    def _load(self, voice_id: str) -> Voice | None:
        with self.db.session() as db:
            voice = db.get(Voice, voice_id)
            if voice is None or voice.status != "PROCESSING" or voice.deleted_at is not None:
                return None
            db.expunge(voice)
            return voice

    async def _sample_bytes(self, voice: Voice) -> bytes:
        if voice.sample_source and voice.sample_source.startswith("https://"):
            data, _ = await fetch_https(
                voice.sample_source,
                max_bytes=MAX_SAMPLE_BYTES,
                timeout_s=self.settings.fetch_timeout_s,
                policy=policy_from_settings(self.settings),
                ca_bundle=self.settings.fetch_ca_bundle,
            )
            return data
        if voice.sample_blob is None:
            raise CloneRejected("The audio sample is missing.")
        return await asyncio.to_thread(self.blobs.get_bytes, voice.sample_blob)

    def _clone(self, data: bytes) -> tuple[VoiceDesign, dict[str, Any]]:
        samples, rate = decode_sample(data)
        result = load_cloner(self.settings.engines).clone(samples, rate)
        analysis: dict[str, Any] = {
            "sample": result.sample.as_dict(),
            "clone": result.clone.as_dict() if result.clone else None,
            "speechSeconds": round(result.speech_s, 2),
            "transcript": result.transcript[:2000],
            "fitRounds": result.rounds,
        }
        return result.design, analysis

    async def _run(self, voice_id: str) -> None:
        voice = await asyncio.to_thread(self._load, voice_id)
        if voice is None:
            return
        engines = self.settings.engines
        try:
            if voice.source_type == "text":
                async with self._jobs.cpu_gate:
                    design, analysis = await self._jobs.cpu_gate.run(
                        design_from_prompt, voice.prompt or "", self.settings
                    )
                    design = replace(design, base=voice.base_model)
                    preview, duration = await self._jobs.cpu_gate.run(
                        render_design_preview, design, engines
                    )
            else:
                data = await self._sample_bytes(voice)
                async with self._jobs.cpu_gate:
                    design, analysis = await self._jobs.cpu_gate.run(self._clone, data)
                    design = replace(design, base=voice.base_model)
                    preview, duration = await self._jobs.cpu_gate.run(
                        render_design_preview, design, engines, CUSTOM_PREVIEW_CLONE_SENTENCE
                    )
        except (asyncio.CancelledError, LeaseLost):
            raise
        except (CloneRejected, FetchError) as exc:
            reason = str(exc)
            if isinstance(exc, FetchError):
                reason = f"Could not download the audio sample: {reason}."
            await asyncio.to_thread(self._fail, voice_id, reason)
            return
        except Exception:
            log.exception("processing voice %s failed", voice_id)
            await asyncio.to_thread(
                self._fail, voice_id, "Internal error while processing; the failure was logged."
            )
            return
        key = f"{voice_blob_prefix(voice.organization_id, voice_id)}/preview.mp3"
        await asyncio.to_thread(self.blobs.put_bytes, key, preview)
        await asyncio.to_thread(self._finish, voice_id, design, analysis, key, duration)

    def _fail(self, voice_id: str, reason: str) -> None:
        with self.db.session() as db:
            row = db.get(Voice, voice_id, with_for_update=True)
            check_lease(db)
            if row is None or row.status != "PROCESSING" or row.deleted_at is not None:
                return
            row.status = "FAILED"
            row.failure_reason = reason
            row.updated_at = utcnow()
            voice_changed(db, row)
            staged = row.sample_blob
            row.sample_blob = None
        self._drop_staged(staged)

    def _finish(
        self,
        voice_id: str,
        design: VoiceDesign,
        analysis: dict[str, Any],
        preview_key: str,
        duration: float,
    ) -> None:
        with self.db.session() as db:
            row = db.get(Voice, voice_id, with_for_update=True)
            check_lease(db)
            if row is None or row.status != "PROCESSING" or row.deleted_at is not None:
                self.blobs.delete(preview_key)  # deleted meanwhile
                return
            row.status = "READY"
            row.design = design_to_json(design)
            row.analysis = analysis
            row.fallback_preset = nearest_preset(design)
            row.preview_blob = preview_key
            row.preview_duration_s = round(duration, 3)
            row.updated_at = utcnow()
            voice_changed(db, row)
            staged = row.sample_blob
            row.sample_blob = None
        self._drop_staged(staged)

    def _drop_staged(self, key: str | None) -> None:
        # A data: URI's bytes were staged for this job only; uploads are the caller's.
        if key and not key.startswith("uploads/"):
            self.blobs.delete(key)
