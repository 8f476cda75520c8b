"""/v1/avatars and /v1/avatar_usage."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import Cursor, IdPath, check_id, limit_query
from opencharacters.domain.errors import BadRequest, Conflict
from opencharacters.domain.requests import AvatarCreate, AvatarUpdate, CustomVoiceRef
from opencharacters.domain.timefmt import parse_query_datetime, utcnow
from opencharacters.engine.avatar_jobs import avatar_blob_prefix
from opencharacters.ingest.sources import completed_upload, decode_data_uri
from opencharacters.store.avatars import (
    check_documents,
    check_knowledge_limit,
    document_ids_for,
    get_avatar,
    set_documents,
)
from opencharacters.store.pagination import paginate
from opencharacters.store.responses import avatar_json
from opencharacters.store.sessions import cancel_for_avatar
from opencharacters.store.tables import Avatar, RealtimeSession
from opencharacters.store.voices import custom_voice_ids, live_voices, usable_custom_voice

router = APIRouter(tags=["avatars"])
MAX_USAGE_DAYS = 90


def _check_voice(db: Session, org_id: str, voice: Any) -> dict[str, Any]:
    if isinstance(voice, CustomVoiceRef):
        usable_custom_voice(db, org_id, str(voice.id), "voice.id")
    return dict(voice.model_dump(mode="json"))


def _stage_reference(db: Session, svc: Services, avatar: Avatar, uri: str) -> None:
    """Records where the image comes from; a data: URI is decoded and kept as a blob now."""
    if uri.startswith("https://"):
        avatar.reference_source, avatar.reference_blob = uri, None
    elif uri.startswith("runway://"):
        upload = completed_upload(db, avatar.organization_id, uri, "referenceImage")
        avatar.reference_source, avatar.reference_blob = uri, upload.blob_key
    else:
        data, _ = decode_data_uri(uri, "referenceImage")
        key = (
            f"{avatar_blob_prefix(avatar.organization_id, avatar.id)}/"
            f"{avatar.image_generation}/source"
        )
        svc.blobs.put_bytes(key, data)
        avatar.reference_source, avatar.reference_blob = None, key


def render(db: Session, svc: Services, avatar: Avatar) -> dict[str, Any]:
    voices = live_voices(db, avatar.organization_id, custom_voice_ids([avatar.voice]))
    return avatar_json(
        avatar, document_ids_for(db, [avatar.id])[avatar.id], svc.blob_url, voices.get
    )


def _create(svc: Services, caller: Caller, body: AvatarCreate) -> tuple[dict[str, Any], Avatar]:
    now = utcnow()
    with svc.db.session() as db:
        documents = check_documents(db, caller.org_id, body.documentIds)
        check_knowledge_limit(db, documents)
        avatar = Avatar(
            id=str(uuid.uuid4()),
            organization_id=caller.org_id,
            name=body.name,
            personality=body.personality,
            start_script=body.startScript,
            voice=_check_voice(db, caller.org_id, body.voice),
            image_processing=body.imageProcessing,
            face_points=body.facePoints.as_rig_points() if body.facePoints else None,
            status="PROCESSING",
            image_generation=1,
            created_at=now,
            updated_at=now,
        )
        _stage_reference(db, svc, avatar, body.referenceImage)
        db.add(avatar)
        db.flush()
        set_documents(db, avatar, documents)
        return render(db, svc, avatar), avatar


@router.post("/v1/avatars", summary="Create an avatar")
async def create_avatar(
    body: AvatarCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    rendered, avatar = await asyncio.to_thread(_create, svc, caller, body)
    svc.avatar_processor.submit(avatar.id, avatar.image_generation)
    if body.documentIds:
        svc.knowledge.refresh([avatar.id])
    return rendered


def _list(svc: Services, caller: Caller, limit: int, cursor: str | None) -> dict[str, Any]:
    with svc.db.session() as db:
        page = paginate(
            db,
            select(Avatar).where(Avatar.organization_id == caller.org_id),
            time_column=Avatar.created_at,
            id_column=Avatar.id,
            time_of=lambda a: a.created_at,
            id_of=lambda a: a.id,
            limit=limit,
            cursor=cursor,
        )
        documents = document_ids_for(db, [a.id for a in page.items])
        voices = live_voices(db, caller.org_id, custom_voice_ids(a.voice for a in page.items))
        return page.to_wire(lambda a: avatar_json(a, documents[a.id], svc.blob_url, voices.get))


@router.get("/v1/avatars", summary="List avatars")
async def list_avatars(
    limit: int = limit_query(50),
    cursor: Cursor = None,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return await asyncio.to_thread(_list, svc, caller, limit, cursor)


def _retrieve(svc: Services, caller: Caller, avatar_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return render(db, svc, get_avatar(db, caller.org_id, avatar_id))


@router.get("/v1/avatars/{id}", summary="Retrieve an avatar")
async def retrieve_avatar(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _update(
    svc: Services, caller: Caller, avatar_id: str, body: AvatarUpdate
) -> tuple[dict[str, Any], int | None]:
    fields = body.model_fields_set
    with svc.db.session() as db:
        avatar = get_avatar(db, caller.org_id, avatar_id, for_update=True)
        reprocess = (
            "referenceImage" in fields
            or "facePoints" in fields
            or ("imageProcessing" in fields and body.imageProcessing != avatar.image_processing)
        )
        if reprocess and avatar.status == "PROCESSING":
            raise Conflict("The reference image cannot be updated while the avatar is processing.")
        if "documentIds" in fields:
            documents = check_documents(db, caller.org_id, body.documentIds or [])
            check_knowledge_limit(db, documents)
            set_documents(db, avatar, documents)
        if "voice" in fields:
            avatar.voice = _check_voice(db, caller.org_id, body.voice)
        if body.name is not None:
            avatar.name = body.name
        if body.personality is not None:
            avatar.personality = body.personality
        if "startScript" in fields:
            avatar.start_script = body.startScript
        if body.imageProcessing is not None:
            avatar.image_processing = body.imageProcessing
        if "facePoints" in fields:
            avatar.face_points = body.facePoints.as_rig_points() if body.facePoints else None
        if reprocess:
            avatar.image_generation += 1
            if body.referenceImage is not None:
                _stage_reference(db, svc, avatar, body.referenceImage)
            elif avatar.reference_blob is None and avatar.reference_source is None:
                raise BadRequest("referenceImage is required to reprocess this avatar")
            avatar.status = "PROCESSING"
            avatar.failure_reason = None
        avatar.updated_at = utcnow()
        db.flush()
        return render(db, svc, avatar), (avatar.image_generation if reprocess else None)


@router.patch("/v1/avatars/{id}", summary="Update an avatar")
async def update_avatar(
    id: IdPath,
    body: AvatarUpdate,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    avatar_id = check_id(id, "id")
    rendered, generation = await asyncio.to_thread(_update, svc, caller, avatar_id, body)
    if generation is not None:
        svc.avatar_processor.submit(avatar_id, generation)
    if "documentIds" in body.model_fields_set:
        svc.knowledge.refresh([avatar_id])
    return rendered


def _delete(svc: Services, caller: Caller, avatar_id: str) -> None:
    with svc.db.session() as db:
        avatar = get_avatar(db, caller.org_id, avatar_id, for_update=True)
        cancel_for_avatar(db, avatar.id)
        db.delete(avatar)
    svc.blobs.delete_prefix(avatar_blob_prefix(caller.org_id, avatar_id))


@router.delete("/v1/avatars/{id}", status_code=204, summary="Delete an avatar")
async def delete_avatar(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    avatar_id = check_id(id, "id")
    await asyncio.to_thread(_delete, svc, caller, avatar_id)
    svc.knowledge.forget(avatar_id)
    return Response(status_code=204)


def _usage(svc: Services, caller: Caller, start: datetime, end: datetime) -> dict[str, Any]:
    with svc.db.session() as db:
        rows = db.execute(
            select(RealtimeSession.created_at, RealtimeSession.duration).where(
                RealtimeSession.organization_id == caller.org_id,
                RealtimeSession.created_at >= start,
                RealtimeSession.created_at < end,
            )
        ).all()
    by_day: dict[str, dict[str, Any]] = {}
    day = start.date()
    while datetime(day.year, day.month, day.day, tzinfo=start.tzinfo) < end:
        by_day[day.isoformat()] = {"date": day.isoformat(), "sessions": 0, "seconds": 0}
        day += timedelta(days=1)
    measured = [duration for _, duration in rows if duration is not None]
    for created_at, duration in rows:
        bucket = by_day.get(created_at.date().isoformat())
        if bucket is not None:
            bucket["sessions"] += 1
            bucket["seconds"] += duration or 0
    total = sum(measured)
    return {
        "totalSeconds": total,
        "totalSessions": len(rows),
        "avgDurationSeconds": round(total / len(measured)) if measured else 0,
        "byDay": list(by_day.values()),
    }


@router.get("/v1/avatar_usage", summary="Session usage per day")
async def avatar_usage(
    startDate: str = Query(description="Start of the range in UTC, inclusive"),
    endDate: str = Query(description="End of the range in UTC, exclusive"),
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    start = parse_query_datetime(startDate, "startDate")
    end = parse_query_datetime(endDate, "endDate")
    if end <= start:
        raise BadRequest("endDate must be after startDate")
    if end - start > timedelta(days=MAX_USAGE_DAYS):
        raise BadRequest(
            f"the range from startDate to endDate may be at most {MAX_USAGE_DAYS} days"
        )
    return await asyncio.to_thread(_usage, svc, caller, start, end)
