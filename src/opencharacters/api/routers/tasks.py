"""/v1/avatar_videos and /v1/tasks/{id}: an avatar speaking given audio or text, rendered to MP4."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import NotFound
from opencharacters.domain.requests import (
    AvatarVideoCreate,
    CustomSpeechVoice,
    SpeechAudio,
)
from opencharacters.domain.timefmt import iso, utcnow
from opencharacters.domain.voice_designs import design_to_json
from opencharacters.engine.task_runner import ACTIVE_TASK_STATES, task_blob_prefix
from opencharacters.ingest.sources import completed_upload, decode_data_uri
from opencharacters.store.avatars import ready_avatar
from opencharacters.store.limits import check_video_limits, server_defaults
from opencharacters.store.locks import lock_organization
from opencharacters.store.tables import Task
from opencharacters.store.voices import resolve_voice, usable_custom_voice

router = APIRouter(tags=["avatar videos"])
FREE = {"credits": 0}  # self-hosted: nothing is charged


def task_json(task: Task, output_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": task.id, "createdAt": iso(task.created_at), "status": task.status}
    if task.status in ACTIVE_TASK_STATES:
        body["estimatedCost"] = FREE
        if task.status == "RUNNING":
            body["progress"] = task.progress
        return body
    body["cost"] = FREE
    if task.status == "SUCCEEDED":
        body["output"] = [output_url] if output_url else []
    elif task.status == "FAILED":
        body["failure"] = task.failure or "The task failed."
        body["failureCode"] = task.failure_code
    return body


def _speech_spec(
    db: Session, svc: Services, org_id: str, task_id: str, body: AvatarVideoCreate, voice: Any
) -> dict[str, Any]:
    speech = body.speech
    if isinstance(speech, SpeechAudio):
        if speech.audio.startswith("https://"):
            return {"type": "audio", "url": speech.audio}
        if speech.audio.startswith("runway://"):
            upload = completed_upload(db, org_id, speech.audio, "speech.audio")
            return {"type": "audio", "blob": upload.blob_key}
        data, _ = decode_data_uri(speech.audio, "speech.audio")
        key = f"{task_blob_prefix(org_id, task_id)}/speech"
        svc.blobs.put_bytes(key, data)
        return {"type": "audio", "blob": key}
    if isinstance(speech.voice, CustomSpeechVoice):
        custom = usable_custom_voice(db, org_id, str(speech.voice.id), "speech.voice.id")
        return {"type": "text", "text": speech.text, "voiceDesign": custom.design}
    if speech.voice is not None:
        return {"type": "text", "text": speech.text, "voiceId": speech.voice.presetId}
    # The avatar's own voice; a deleted custom voice speaks with its nearest preset.
    resolved = resolve_voice(db, org_id, voice).voice
    if isinstance(resolved, str):
        return {"type": "text", "text": speech.text, "voiceId": resolved}
    return {"type": "text", "text": speech.text, "voiceDesign": design_to_json(resolved)}


def _create(svc: Services, caller: Caller, body: AvatarVideoCreate) -> str:
    if body.avatar.type == "runway-preset":
        svc.presets.ensure(body.avatar.presetId)
    with svc.db.session() as db:
        avatar = ready_avatar(db, caller.org_id, body.avatar, "videos")
        # Check and insert as one step: concurrent creations for this organization wait here.
        lock_organization(db, caller.org_id)
        check_video_limits(db, caller.org_id, server_defaults(svc.settings))
        now = utcnow()
        task_id = str(uuid.uuid4())
        spec = {
            "avatarId": avatar.id,
            "speech": _speech_spec(db, svc, caller.org_id, task_id, body, avatar.voice),
        }
        db.add(
            Task(
                id=task_id,
                organization_id=caller.org_id,
                kind="avatar_video",
                status="PENDING",
                progress=0.0,
                spec=spec,
                created_at=now,
                updated_at=now,
            )
        )
        return task_id


@router.post("/v1/avatar_videos", summary="Render an avatar speaking audio or text (a task)")
async def create_avatar_video(
    body: AvatarVideoCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    task_id = await asyncio.to_thread(_create, svc, caller, body)
    svc.task_runner.submit(task_id)
    return {"id": task_id}


def _get(db: Session, org_id: str, task_id: str) -> Task:
    task = db.get(Task, task_id)
    if task is None or task.organization_id != org_id:
        raise NotFound(f"Task {task_id} not found.")
    return task


def _retrieve(svc: Services, caller: Caller, task_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        task = _get(db, caller.org_id, task_id)
        return task_json(task, svc.blob_url(task.output_blob))


@router.get("/v1/tasks/{id}", summary="Retrieve a task")
async def retrieve_task(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _delete(svc: Services, caller: Caller, task_id: str) -> bool:
    """Cancels a pending or running task; deletes a finished one (as Runway does)."""
    with svc.db.session() as db:
        task = _get(db, caller.org_id, task_id)
        if task.status in ACTIVE_TASK_STATES:
            task.status = "CANCELLED"
            task.updated_at = utcnow()
            return True
        db.delete(task)
    svc.blobs.delete_prefix(task_blob_prefix(caller.org_id, task_id))
    return False


@router.delete("/v1/tasks/{id}", status_code=204, summary="Cancel or delete a task")
async def delete_task(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    task_id = check_id(id, "id")
    if await asyncio.to_thread(_delete, svc, caller, task_id):
        svc.task_runner.cancel(task_id)
    return Response(status_code=204)
