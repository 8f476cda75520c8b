"""Avatar rows and their attached documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opencharacters.domain.errors import BadRequest, NotFound
from opencharacters.store.tables import Avatar, AvatarDocument, Document


def get_avatar(db: Session, org_id: str, avatar_id: str, *, for_update: bool = False) -> Avatar:
    avatar = db.get(Avatar, avatar_id, with_for_update=for_update)
    if avatar is None or avatar.organization_id != org_id:
        raise NotFound(f"Avatar {avatar_id} not found.")
    return avatar


def ready_avatar(db: Session, org_id: str, ref: Any, purpose: str) -> Avatar:
    """The READY custom avatar a request body's `avatar` names, or a 400 saying why not."""
    if getattr(ref, "type", None) != "custom":
        raise BadRequest(
            "avatar: runway-preset avatars are not available on this server yet; "
            'create your own avatar and pass {"type": "custom", "avatarId": ...}'
        )
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
