"""Extension: /v1/organization/api_keys — the calling organization's own API keys.

Authenticated by an API key and scoped to its organization: another organization's keys are
never listed and answer 404. A key's secret is returned once, by the create call; the database
keeps only its SHA-256 hash, and listings show a prefix."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import func, select

from opencharacters.api.auth import Caller, api_caller, bearer, bearer_token
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import Forbidden, NotFound
from opencharacters.domain.requests import Strict
from opencharacters.domain.text_length import Utf16Length
from opencharacters.domain.timefmt import iso, utcnow
from opencharacters.store.accounts import add_key, hash_key, new_key
from opencharacters.store.tables import ApiKey, Organization

router = APIRouter(tags=["API keys (extension)"])


class ApiKeyCreate(Strict):
    name: Annotated[str, Utf16Length(1, 100)] | None = None


def key_json(row: ApiKey, current_hash: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "createdAt": iso(row.created_at),
        "lastUsedAt": iso(row.last_used_at) if row.last_used_at else None,
        "revokedAt": iso(row.revoked_at) if row.revoked_at else None,
        "status": "REVOKED" if row.revoked_at else "ACTIVE",
        # The key this request was made with (revoking it signs the caller out).
        "current": row.key_hash == current_hash,
    }


def _list(svc: Services, caller: Caller, current_hash: str) -> dict[str, Any]:
    with svc.db.session() as db:
        rows = db.scalars(
            select(ApiKey)
            .where(ApiKey.organization_id == caller.org_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
        return {"data": [key_json(row, current_hash) for row in rows]}


def _create(svc: Services, caller: Caller, body: ApiKeyCreate, current_hash: str) -> dict[str, Any]:
    key = new_key()
    limit = svc.settings.max_api_keys_per_org
    with svc.db.session() as db:
        # The row lock serializes key creation per organization on PostgreSQL; on SQLite the
        # insert below takes the database's write lock before the count, which does the same.
        org = db.get(Organization, caller.org_id, with_for_update=True)
        assert org is not None  # the caller's key was just checked against it
        row = add_key(db, org, key, body.name)
        active = db.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.organization_id == org.id, ApiKey.revoked_at.is_(None))
        )
        if (active or 0) > limit:
            raise Forbidden(
                f"This organization already has {limit} active API keys (the limit); "
                "revoke one before creating another."
            )
        return {**key_json(row, current_hash), "key": key}


def _revoke(svc: Services, caller: Caller, key_id: str) -> None:
    with svc.db.session() as db:
        row = db.get(ApiKey, key_id, with_for_update=True)
        if row is None or row.organization_id != caller.org_id:
            raise NotFound(f"API key {key_id} not found.")
        row.revoked_at = row.revoked_at or utcnow()


@router.get(
    "/v1/organization/api_keys",
    summary="List this organization's API keys (extension)",
    description="Newest first, with prefixes only (never the secret); revoked keys included.",
)
async def list_api_keys(
    caller: Caller = Depends(api_caller),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    current = hash_key(bearer_token(credentials))
    return await asyncio.to_thread(_list, svc, caller, current)


@router.post(
    "/v1/organization/api_keys",
    summary="Create an API key for this organization (extension)",
    description="The response's `key` is the secret: it is shown this once and never again. "
    "An organization may hold `OPENCHARACTERS_MAX_API_KEYS_PER_ORG` active keys (100 by default); "
    "past that, 403 until one is revoked.",
)
async def create_api_key(
    body: ApiKeyCreate,
    caller: Caller = Depends(api_caller),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    current = hash_key(bearer_token(credentials))
    return await asyncio.to_thread(_create, svc, caller, body, current)


@router.delete(
    "/v1/organization/api_keys/{id}",
    status_code=204,
    summary="Revoke one of this organization's API keys (extension)",
    description="Idempotent. Revoking the key the request is made with is allowed.",
)
async def revoke_api_key(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    await asyncio.to_thread(_revoke, svc, caller, check_id(id, "id"))
    return Response(status_code=204)
