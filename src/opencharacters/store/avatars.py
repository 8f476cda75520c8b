"""Avatar rows and their attached documents."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opencharacters.domain.errors import BadRequest, NotFound
from opencharacters.domain.knowledge import MAX_AVATAR_KNOWLEDGE_TOKENS, count_tokens
from opencharacters.domain.preset_characters import PRESET_CHARACTERS_BY_ID
from opencharacters.store.tables import Avatar, AvatarDocument, Document


def recent_personalities(db: Session, limit: int) -> list[str]:
    """The personalities of the avatars saved most recently, newest first, each once: READY
    ones, and those whose image is still being processed (their first call comes next)."""
    rows = db.scalars(
        select(Avatar.personality)
        .where(Avatar.status.in_(("READY", "PROCESSING")))
        .order_by(Avatar.updated_at.desc())
        .limit(limit)
    )
    return list(dict.fromkeys(rows))


def get_avatar(db: Session, org_id: str, avatar_id: str, *, for_update: bool = False) -> Avatar:
    avatar = db.get(Avatar, avatar_id, with_for_update=for_update)
    if avatar is None or avatar.organization_id != org_id:
        raise NotFound(f"Avatar {avatar_id} not found.")
    return avatar


def ready_avatar(db: Session, org_id: str, ref: Any, purpose: str) -> Avatar:
    """The READY avatar a request body's `avatar` names, or a 400 saying why not. A preset's
    row must have been made ready first (`PresetAvatars.ensure`)."""
    if getattr(ref, "type", None) == "runway-preset":
        preset = PRESET_CHARACTERS_BY_ID[ref.presetId]
        row = db.get(Avatar, preset.avatar_id)
        if row is None or row.status != "READY" or row.rig_blob is None:
            raise BadRequest(f"avatar.presetId: the preset {ref.presetId} is not ready")
        return row
    try:
        avatar = get_avatar(db, org_id, str(ref.avatarId))
    except NotFound:
        raise BadRequest(f"avatar.avatarId: avatar {ref.avatarId} not found") from None
    if avatar.status != "READY" or avatar.rig_blob is None:
        raise BadRequest(
            f"avatar.avatarId: avatar {avatar.id} is {avatar.status}; {purpose} need a READY avatar"
        )
    return avatar


def document_ids_for(db: Session, avatar_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if not avatar_ids:
        return found
    rows = db.execute(
        select(AvatarDocument.avatar_id, AvatarDocument.document_id)
        .where(AvatarDocument.avatar_id.in_(list(avatar_ids)))
        .order_by(AvatarDocument.avatar_id, AvatarDocument.position)
    )
    for avatar_id, document_id in rows:
        found[avatar_id].append(document_id)
    return found


def check_documents(db: Session, org_id: str, document_ids: Sequence[UUID]) -> list[str]:
    wanted = [str(d) for d in document_ids]
    if not wanted:
        return []
    present = set(
        db.scalars(
            select(Document.id).where(Document.id.in_(wanted), Document.organization_id == org_id)
        )
    )
    for index, document_id in enumerate(wanted):
        if document_id not in present:
            raise BadRequest(f"documentIds[{index}]: document {document_id} not found")
    return wanted


def set_documents(db: Session, avatar: Avatar, document_ids: Sequence[str]) -> None:
    db.execute(delete(AvatarDocument).where(AvatarDocument.avatar_id == avatar.id))
    for position, document_id in enumerate(document_ids):
        db.add(AvatarDocument(avatar_id=avatar.id, document_id=document_id, position=position))
    db.flush()


_TOKEN_COUNTS: OrderedDict[tuple[str, datetime], int] = OrderedDict()
_TOKEN_COUNTS_LOCK = threading.Lock()


def _document_tokens(document_id: str, updated_at: datetime, content: str) -> int:
    """Token count of a stored document, remembered per (id, update time)."""
    key = (document_id, updated_at)
    with _TOKEN_COUNTS_LOCK:
        known = _TOKEN_COUNTS.get(key)
    if known is not None:
        return known
    tokens = count_tokens(content)
    with _TOKEN_COUNTS_LOCK:
        _TOKEN_COUNTS[key] = tokens
        while len(_TOKEN_COUNTS) > 4096:
            _TOKEN_COUNTS.popitem(last=False)
    return tokens


def knowledge_tokens(
    db: Session, document_ids: Sequence[str], replaced: tuple[str, str] | None = None
) -> int:
    """Tokens of these documents together (`opencharacters.domain.knowledge.count_tokens`);
    `replaced` = (document id, new content) counts that document with its new content."""
    if not document_ids:
        return 0
    total = 0
    rows = db.execute(
        select(Document.id, Document.updated_at, Document.content).where(
            Document.id.in_(list(document_ids))
        )
    )
    for document_id, updated_at, content in rows:
        if replaced is not None and document_id == replaced[0]:
            total += count_tokens(replaced[1])
        else:
            total += _document_tokens(document_id, updated_at, content)
    return total


def check_knowledge_limit(db: Session, document_ids: Sequence[str]) -> None:
    """400 when the documents an avatar is given hold more than 50,000 tokens."""
    tokens = knowledge_tokens(db, document_ids)
    if tokens > MAX_AVATAR_KNOWLEDGE_TOKENS:
        raise BadRequest(
            f"documentIds: these documents hold {tokens:,} tokens together; an avatar can have "
            f"at most {MAX_AVATAR_KNOWLEDGE_TOKENS:,} tokens of knowledge"
        )


def check_document_update_limit(db: Session, document_id: str, content: str) -> None:
    """400 when new content would take an avatar using the document over 50,000 tokens."""
    users = list(
        db.scalars(
            select(AvatarDocument.avatar_id).where(AvatarDocument.document_id == document_id)
        )
    )
    if not users:
        return
    documents = document_ids_for(db, users)
    for avatar_id in users:
        tokens = knowledge_tokens(db, documents[avatar_id], replaced=(document_id, content))
        if tokens > MAX_AVATAR_KNOWLEDGE_TOKENS:
            raise BadRequest(
                f"content: with this content avatar {avatar_id} would have {tokens:,} tokens of "
                f"knowledge; an avatar can have at most {MAX_AVATAR_KNOWLEDGE_TOKENS:,}"
            )
