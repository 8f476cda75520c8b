"""/v1/documents: knowledge text attached to avatars."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import Cursor, IdPath, check_id, limit_query
from opencharacters.dialogue.knowledge.index import SourceDocument
from opencharacters.domain.errors import BadRequest, NotFound
from opencharacters.domain.knowledge import MAX_AVATAR_KNOWLEDGE_TOKENS, count_tokens
from opencharacters.domain.requests import DocumentCreate, DocumentUpdate
from opencharacters.domain.timefmt import utcnow
from opencharacters.ingest.documents import DocumentRejected, extract_text
from opencharacters.ingest.sources import completed_upload, decode_data_uri
from opencharacters.store.avatars import check_document_update_limit
from opencharacters.store.pagination import paginate
from opencharacters.store.responses import document_json
from opencharacters.store.tables import Avatar, AvatarDocument, Document

router = APIRouter(tags=["documents"])
MAX_DOCUMENT_CHARS = 200_000
"""The same cap as a text document's `content`."""


def _get(db: Session, org_id: str, document_id: str) -> Document:
    document = db.get(Document, document_id)
    if document is None or document.organization_id != org_id:
        raise NotFound(f"Document {document_id} not found.")
    return document


def _used_by(
    db: Session, svc: Services, document_ids: list[str]
) -> dict[str, list[tuple[Avatar, str | None]]]:
    found: dict[str, list[tuple[Avatar, str | None]]] = {d: [] for d in document_ids}
    rows = db.execute(
        select(AvatarDocument.document_id, Avatar)
        .join(Avatar, Avatar.id == AvatarDocument.avatar_id)
        .where(AvatarDocument.document_id.in_(document_ids))
        .order_by(Avatar.created_at)
    )
    for document_id, avatar in rows:
        found[document_id].append((avatar, svc.blob_url(avatar.processed_preview_blob)))
    return found


def _render(db: Session, svc: Services, document: Document) -> dict[str, Any]:
    used_by = _used_by(db, svc, [document.id])[document.id]
    return document_json(document, used_by, with_content=True)


def _file_bytes(
    svc: Services, caller: Caller, body: DocumentCreate
) -> tuple[bytes, str | None, str | None]:
    """The file's bytes, name and media type, from an upload or a data: URI."""
    uri = body.file or ""
    if uri.startswith("runway://"):
        with svc.db.session() as db:
            upload = completed_upload(db, caller.org_id, uri, "file")
            key, filename, media = upload.blob_key, upload.filename, upload.content_type
        assert key is not None
        return svc.blobs.get_bytes(key), body.fileName or filename, media
    data, media = decode_data_uri(uri, "file")
    return data, body.fileName, media


def _file_text(svc: Services, caller: Caller, body: DocumentCreate) -> str:
    data, filename, media = _file_bytes(svc, caller, body)
    try:
        text = extract_text(data, filename=filename, media_type=media).text
    except DocumentRejected as exc:
        raise BadRequest(f"file: {exc}") from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise BadRequest(
            f"file: its text is {len(text):,} characters; a document may hold at most "
            f"{MAX_DOCUMENT_CHARS:,}"
        )
    tokens = count_tokens(text)
    if tokens > MAX_AVATAR_KNOWLEDGE_TOKENS:
        raise BadRequest(
            f"file: its text holds {tokens:,} tokens; an avatar can have at most "
            f"{MAX_AVATAR_KNOWLEDGE_TOKENS:,} tokens of knowledge, so split the file"
        )
    return text


def _create(svc: Services, caller: Caller, body: DocumentCreate) -> dict[str, Any]:
    content = body.content if body.file is None else _file_text(svc, caller, body)
    assert content is not None
    now = utcnow()
    with svc.db.session() as db:
        document = Document(
            id=str(uuid.uuid4()),
            organization_id=caller.org_id,
            name=body.name,
            type="text" if body.file is None else "file",
            content=content,
            created_at=now,
            updated_at=now,
        )
        db.add(document)
        db.flush()
        return _render(db, svc, document)


@router.post("/v1/documents", summary="Create a knowledge document")
async def create_document(
    body: DocumentCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    rendered = await asyncio.to_thread(_create, svc, caller, body)
    svc.knowledge.warm([SourceDocument(rendered["id"], body.name, rendered["content"])])
    return rendered


def _list(
    svc: Services, caller: Caller, limit: int, cursor: str | None, sort: str, order: str
) -> dict[str, Any]:
    column = Document.updated_at if sort == "updatedAt" else Document.created_at
    with svc.db.session() as db:
        page = paginate(
            db,
            select(Document).where(Document.organization_id == caller.org_id),
            time_column=column,
            id_column=Document.id,
            time_of=lambda d: d.updated_at if sort == "updatedAt" else d.created_at,
            id_of=lambda d: d.id,
            limit=limit,
            cursor=cursor,
            descending=order == "desc",
        )
        used_by = _used_by(db, svc, [d.id for d in page.items])
        return page.to_wire(lambda d: document_json(d, used_by[d.id], with_content=False))


@router.get("/v1/documents", summary="List documents")
async def list_documents(
    limit: int = limit_query(50),
    cursor: Cursor = None,
    sort: Literal["createdAt", "updatedAt"] = Query("createdAt"),
    order: Literal["asc", "desc"] = Query("desc"),
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return await asyncio.to_thread(_list, svc, caller, limit, cursor, sort, order)


def _retrieve(svc: Services, caller: Caller, document_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return _render(db, svc, _get(db, caller.org_id, document_id))


@router.get("/v1/documents/{id}", summary="Retrieve a document")
async def retrieve_document(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _update(
    svc: Services, caller: Caller, document_id: str, body: DocumentUpdate
) -> tuple[SourceDocument, list[str]]:
    """Applies the change; returns the document as it is now and the avatars that use it."""
    with svc.db.session() as db:
        document = _get(db, caller.org_id, document_id)
        if body.content is not None and body.content != document.content:
            check_document_update_limit(db, document.id, body.content)
        if body.name is not None:
            document.name = body.name
        if body.content is not None:
            document.content = body.content
        document.updated_at = utcnow()
        users = list(
            db.scalars(
                select(AvatarDocument.avatar_id).where(AvatarDocument.document_id == document.id)
            )
        )
        return SourceDocument(document.id, document.name, document.content), users


@router.patch("/v1/documents/{id}", status_code=204, summary="Update a document")
async def update_document(
    id: IdPath,
    body: DocumentUpdate,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> Response:
    document, users = await asyncio.to_thread(_update, svc, caller, check_id(id, "id"), body)
    svc.knowledge.warm([document])
    svc.knowledge.refresh(users)
    return Response(status_code=204)


def _delete(svc: Services, caller: Caller, document_id: str) -> list[str]:
    """Deletes the document; returns the avatars that used it."""
    with svc.db.session() as db:
        document = _get(db, caller.org_id, document_id)
        touched = list(
            db.scalars(
                select(AvatarDocument.avatar_id).where(AvatarDocument.document_id == document.id)
            )
        )
        db.delete(document)
        now = utcnow()
        for avatar in db.scalars(select(Avatar).where(Avatar.id.in_(touched))):
            avatar.updated_at = now
        return touched


@router.delete("/v1/documents/{id}", status_code=204, summary="Delete a document")
async def delete_document(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    touched = await asyncio.to_thread(_delete, svc, caller, check_id(id, "id"))
    svc.knowledge.refresh(touched)
    return Response(status_code=204)
