"""Organizations and their API keys (only a hash of each key is stored)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.domain.preset_characters import PRESET_ORGANIZATION_NAME
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.tables import ApiKey, Organization

DEFAULT_ORG = "default"
KEY_PREFIX = "oc_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    organization: str
    name: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def get_or_create_org(db: Session, name: str) -> Organization:
    if name == PRESET_ORGANIZATION_NAME:
        # Its avatars are the server's preset characters: no key may ever own them.
        raise ValueError(f"the organization name {name!r} is reserved")
    org = db.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        org = Organization(id=str(uuid.uuid4()), name=name, created_at=utcnow())
        db.add(org)
        db.flush()
    return org


def add_key(db: Session, org: Organization, key: str, name: str | None = None) -> ApiKey:
    row = ApiKey(
        id=str(uuid.uuid4()),
        organization_id=org.id,
        name=name,
        prefix=key[:10],
        key_hash=hash_key(key),
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    return row


def create_key(db: Session, org_name: str, name: str | None = None) -> tuple[str, ApiKey]:
    key = new_key()
    return key, add_key(db, get_or_create_org(db, org_name), key, name)


def ensure_key(db: Session, key: str, org_name: str = DEFAULT_ORG) -> ApiKey:
    """Makes this exact key valid for the organization (un-revoking it if needed)."""
    row = db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None:
        return add_key(db, get_or_create_org(db, org_name), key, name="bootstrap")
    row.revoked_at = None
    return row


def has_active_key(db: Session) -> bool:
    return db.scalar(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)) is not None


def organization_for_key(db: Session, key: str) -> Organization | None:
    row = db.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        return None
    return db.get(Organization, row.organization_id)


def list_keys(db: Session, org_name: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey, Organization).join(Organization).order_by(ApiKey.created_at)
    if org_name is not None:
        query = query.where(Organization.name == org_name)
    return [
        KeyInfo(k.id, o.name, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at)
        for k, o in db.execute(query).all()
    ]


def revoke_key(db: Session, key_id_or_prefix: str, org_id: str | None = None) -> ApiKey | None:
    query = select(ApiKey).where(
        (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix)
    )
    if org_id is not None:
        query = query.where(ApiKey.organization_id == org_id)
    rows = list(db.scalars(query))
    if len(rows) != 1:
        return None
    rows[0].revoked_at = rows[0].revoked_at or utcnow()
    return rows[0]
