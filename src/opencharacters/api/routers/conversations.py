"""/v1/avatar_conversations and /v1/avatars/{id}/conversations."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import Cursor, IdPath, check_id, limit_query
from opencharacters.domain.errors import Conflict, NotFound
from opencharacters.domain.preset_characters import PRESET_ORGANIZATION_ID
from opencharacters.domain.timefmt import parse_query_datetime
from opencharacters.store.pagination import paginate
from opencharacters.store.responses import conversation_json, conversation_list_item_json
from opencharacters.store.tables import Avatar, Conversation, TranscriptEntry

router = APIRouter(tags=["conversations"])


def _get(db: Session, org_id: str, conversation_id: str, avatar_id: str | None) -> Conversation:
    conversation = db.get(Conversation, conversation_id)
    if (
        conversation is None
        or conversation.organization_id != org_id
        or (avatar_id is not None and conversation.avatar_id != avatar_id)
    ):
        raise NotFound(f"Conversation {conversation_id} not found.")
    return conversation


def _filtered(
    caller: Caller, avatar: str | None, start_date: str | None, end_date: str | None
) -> Select[Conversation]:
    query = select(Conversation).where(Conversation.organization_id == caller.org_id)
    if avatar is not None:
        query = query.where(Conversation.avatar_id == avatar)
    if start_date is not None:
        query = query.where(
            Conversation.created_at >= parse_query_datetime(start_date, "startDate")
        )
    if end_date is not None:
        query = query.where(Conversation.created_at < parse_query_datetime(end_date, "endDate"))
    return query


def _list(
    svc: Services,
    caller: Caller,
    query: Select[Conversation],
    limit: int,
    cursor: str | None,
    require_avatar: str | None = None,
) -> dict[str, Any]:
    with svc.db.session() as db:
        page = paginate(
            db,
            query,
            time_column=Conversation.created_at,
            id_column=Conversation.id,
            time_of=lambda c: c.created_at,
            id_of=lambda c: c.id,
            limit=limit,
            cursor=cursor,
        )
        avatar_ids = {c.avatar_id for c in page.items}
        if require_avatar is not None:
            avatar_ids.add(require_avatar)
        avatars = {
            a.id: a
            for a in db.scalars(
                select(Avatar).where(
                    Avatar.id.in_(avatar_ids),
                    Avatar.organization_id.in_([caller.org_id, PRESET_ORGANIZATION_ID]),
                )
            )
        }
        if require_avatar is not None and require_avatar not in avatars and not page.items:
            raise NotFound(f"Avatar {require_avatar} not found.")
        return page.to_wire(lambda c: conversation_list_item_json(c, avatars.get(c.avatar_id)))


def _retrieve(
    svc: Services, caller: Caller, conversation_id: str, avatar_id: str | None = None
) -> dict[str, Any]:
    with svc.db.session() as db:
        conversation = _get(db, caller.org_id, conversation_id, avatar_id)
        avatar = db.get(Avatar, conversation.avatar_id)
        if avatar is not None and avatar.organization_id not in (
            caller.org_id,
            PRESET_ORGANIZATION_ID,
        ):
            avatar = None
        transcript = list(
            db.scalars(
                select(TranscriptEntry)
                .where(TranscriptEntry.conversation_id == conversation.id)
                .order_by(TranscriptEntry.seq)
            )
        )
        return conversation_json(
            conversation,
            avatar,
            svc.blob_url(avatar.processed_preview_blob) if avatar else None,
            transcript,
            svc.blob_url(conversation.recording_blob),
        )


def _delete(svc: Services, caller: Caller, conversation_id: str) -> None:
    with svc.db.session() as db:
        conversation = _get(db, caller.org_id, conversation_id, None)
        if conversation.status == "in_progress":
            raise Conflict(
                "The conversation is still in progress; end its session "
                "(DELETE /v1/realtime_sessions/{id}) before deleting it."
            )
        recording = conversation.recording_blob
        db.delete(conversation)
    if recording:
        svc.blobs.delete(recording)


@router.get("/v1/avatar_conversations", summary="List conversations")
async def list_conversations(
    limit: int = limit_query(20),
    cursor: Cursor = None,
    avatar: str | None = Query(None, description="Only this avatar's conversations"),
    startDate: str | None = Query(None, description="Created at or after (UTC)"),
    endDate: str | None = Query(None, description="Created before (UTC)"),
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    avatar_id = check_id(avatar, "avatar") if avatar is not None else None
    query = _filtered(caller, avatar_id, startDate, endDate)
    return await asyncio.to_thread(_list, svc, caller, query, limit, cursor)


@router.get("/v1/avatar_conversations/{id}", summary="Retrieve a conversation")
async def retrieve_conversation(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


@router.delete("/v1/avatar_conversations/{id}", status_code=204, summary="Delete a conversation")
async def delete_conversation(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    await asyncio.to_thread(_delete, svc, caller, check_id(id, "id"))
    return Response(status_code=204)


@router.get("/v1/avatars/{id}/conversations", summary="List one avatar's conversations")
async def list_avatar_conversations(
    id: IdPath,
    limit: int = limit_query(20),
    cursor: Cursor = None,
    startDate: str | None = Query(None),
    endDate: str | None = Query(None),
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    avatar_id = check_id(id, "id")
    query = _filtered(caller, avatar_id, startDate, endDate)
    return await asyncio.to_thread(_list, svc, caller, query, limit, cursor, avatar_id)


@router.get(
    "/v1/avatars/{id}/conversations/{conversationId}", summary="Retrieve one avatar's conversation"
)
async def retrieve_avatar_conversation(
    id: IdPath,
    conversationId: IdPath,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    avatar_id = check_id(id, "id")
    conversation_id = check_id(conversationId, "conversationId")
    return await asyncio.to_thread(_retrieve, svc, caller, conversation_id, avatar_id)
