"""/v1/voices: custom voices designed from a description or cloned from a sample, and
/v1/voices/preview: hear a description before creating a voice from it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import Cursor, IdPath, check_id, limit_query
from opencharacters.domain.errors import BadRequest
from opencharacters.domain.requests import (
    VoiceCreate,
    VoiceFromAudio,
    VoicePreview,
    VoiceUpdate,
)
from opencharacters.domain.timefmt import utcnow
from opencharacters.domain.voice_designs import design_to_json
from opencharacters.engine.voice_jobs import design_from_prompt, voice_blob_prefix
from opencharacters.ingest.sources import completed_upload, decode_data_uri
from opencharacters.speech.previews import CUSTOM_PREVIEW_SENTENCE, render_design_preview
from opencharacters.speech.voice_cloning import (
    MAX_SAMPLE_BYTES,
    CloneRejected,
    check_duration,
    decode_sample,
)
from opencharacters.store.pagination import paginate
from opencharacters.store.responses import custom_voice_json
from opencharacters.store.tables import Voice
from opencharacters.store.voices import get_voice

router = APIRouter(tags=["voices"])
PREVIEW_TTL_S = 24 * 3600


def render(svc: Services, voice: Voice) -> dict[str, Any]:
    return custom_voice_json(voice, svc.blob_url(voice.preview_blob))


def _too_big(size: int) -> BadRequest:
    return BadRequest(
        f"from.audio: the audio file is {size} bytes; a cloning sample may be at most "
        f"{MAX_SAMPLE_BYTES} bytes (10 MB)"
    )


def _check_sample(data: bytes) -> None:
    """A sample whose length is outside 10 s-5 min is refused at once (a 400), not accepted
    and then FAILED: the bytes are here already (uploads and data: URIs)."""
    try:
        samples, rate = decode_sample(data)
        check_duration(samples, rate)
    except CloneRejected as exc:
        raise BadRequest(f"from.audio: {exc}") from None


def _stage_sample(svc: Services, db: Any, voice: Voice, source: VoiceFromAudio) -> None:
    uri = source.audio
    if uri.startswith("https://"):
        voice.sample_source = uri  # fetched by the background job (SSRF-safe, 10 MB cap)
        return
    if uri.startswith("runway://"):
        upload = completed_upload(db, voice.organization_id, uri, "from.audio")
        if upload.size is not None and upload.size > MAX_SAMPLE_BYTES:
            raise _too_big(upload.size)
        if upload.blob_key is not None:  # completed_upload guarantees it; the type does not
            _check_sample(svc.blobs.get_bytes(upload.blob_key))
        voice.sample_blob = upload.blob_key
        return
    data, _ = decode_data_uri(uri, "from.audio")
    if len(data) > MAX_SAMPLE_BYTES:
        raise _too_big(len(data))
    _check_sample(data)
    key = f"{voice_blob_prefix(voice.organization_id, voice.id)}/sample"
    svc.blobs.put_bytes(key, data)
    voice.sample_blob = key


def _check_base_model(svc: Services, name: str | None) -> None:
    tts = svc.settings.engines.tts
    if name is None or tts.backend == "openai":
        return  # a speech server's voices are its own to name
    known = ["joe", *tts.piper_voices]
    if name not in known:
        raise BadRequest(
            f"baseModel: unknown voice model {name!r}; this server has: {', '.join(known)}"
        )


def _create(svc: Services, caller: Caller, body: VoiceCreate) -> str:
    _check_base_model(svc, body.base_model)
    now = utcnow()
    source = body.from_
    voice = Voice(
        id=str(uuid.uuid4()),
        organization_id=caller.org_id,
        name=body.name,
        description=body.description,
        status="PROCESSING",
        source_type=source.type,
        base_model=None if body.base_model == "joe" else body.base_model,
        created_at=now,
        updated_at=now,
    )
    with svc.db.session() as db:
        if isinstance(source, VoiceFromAudio):
            _stage_sample(svc, db, voice, source)
        else:
            voice.prompt = source.prompt
            voice.model = source.model
        db.add(voice)
    return voice.id


@router.post("/v1/voices", summary="Create a custom voice from a description or an audio sample")
async def create_voice(
    body: VoiceCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    voice_id = await asyncio.to_thread(_create, svc, caller, body)
    svc.voice_processor.submit(voice_id)
    return {"id": voice_id}


def _list(svc: Services, caller: Caller, limit: int, cursor: str | None) -> dict[str, Any]:
    with svc.db.session() as db:
        page = paginate(
            db,
            select(Voice).where(Voice.organization_id == caller.org_id, Voice.deleted_at.is_(None)),
            time_column=Voice.created_at,
            id_column=Voice.id,
            time_of=lambda v: v.created_at,
            id_of=lambda v: v.id,
            limit=limit,
            cursor=cursor,
        )
        return page.to_wire(lambda v: render(svc, v))


@router.get("/v1/voices", summary="List custom voices")
async def list_voices(
    limit: int = limit_query(50),
    cursor: Cursor = None,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return await asyncio.to_thread(_list, svc, caller, limit, cursor)


def _preview_sync(svc: Services, caller: Caller, prompt: str) -> dict[str, Any]:
    design, analysis = design_from_prompt(prompt, svc.settings)
    recipe = json.dumps(
        {"design": design_to_json(design), "sentence": CUSTOM_PREVIEW_SENTENCE}, sort_keys=True
    )
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:24]
    key = f"orgs/{caller.org_id}/voice-previews/{digest}.mp3"
    meta_key = f"orgs/{caller.org_id}/voice-previews/{digest}.json"
    if svc.blobs.exists(key) and svc.blobs.exists(meta_key):
        duration = float(json.loads(svc.blobs.get_bytes(meta_key))["durationSecs"])
    else:
        audio, duration = render_design_preview(design, svc.settings.engines)
        svc.blobs.put_bytes(key, audio)
        svc.blobs.put_bytes(meta_key, json.dumps({"durationSecs": duration}).encode())
    return {
        "url": svc.blob_url(key, PREVIEW_TTL_S),
        "durationSecs": round(duration, 3),
        # Extension: what the description was read as (gender, age, pitch, pace, ...).
        "attributes": analysis["attributes"],
        **({"note": analysis["note"]} if "note" in analysis else {}),
    }


@router.post("/v1/voices/preview", summary="Hear a voice description before creating it")
async def preview_voice(
    body: VoicePreview, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_preview_sync, svc, caller, body.prompt)


def _retrieve(svc: Services, caller: Caller, voice_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return render(svc, get_voice(db, caller.org_id, voice_id))


@router.get("/v1/voices/{id}", summary="Retrieve a custom voice")
async def retrieve_voice(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _update(svc: Services, caller: Caller, voice_id: str, body: VoiceUpdate) -> dict[str, Any]:
    with svc.db.session() as db:
        voice = get_voice(db, caller.org_id, voice_id, for_update=True)
        if body.name is not None:
            voice.name = body.name
        if "description" in body.model_fields_set:
            voice.description = body.description
        voice.updated_at = utcnow()
        db.flush()
        return render(svc, voice)


@router.patch("/v1/voices/{id}", summary="Rename a custom voice or change its description")
async def update_voice(
    id: IdPath,
    body: VoiceUpdate,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return await asyncio.to_thread(_update, svc, caller, check_id(id, "id"), body)


def _delete(svc: Services, caller: Caller, voice_id: str) -> None:
    """Leaves a tombstone: avatars that use the voice show `deleted: true` and speak with the
    preset nearest to it. Everything the voice was made from is removed."""
    with svc.db.session() as db:
        voice = get_voice(db, caller.org_id, voice_id, for_update=True)
        voice.deleted_at = voice.updated_at = utcnow()
        voice.name = ""
        voice.description = None
        voice.prompt = None
        voice.sample_source = None
        voice.analysis = None
        voice.design = None
        voice.preview_blob = None
        voice.sample_blob = None  # a staged data: URI lives under the voice's prefix
    svc.blobs.delete_prefix(voice_blob_prefix(caller.org_id, voice_id))


@router.delete("/v1/voices/{id}", status_code=204, summary="Delete a custom voice")
async def delete_voice(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    voice_id = check_id(id, "id")
    await asyncio.to_thread(_delete, svc, caller, voice_id)
    svc.voice_processor.cancel(voice_id)
    return Response(status_code=204)
