"""API-key authentication, the version header, and the per-organization request rate."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Header
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from opencharacters.api.context import Services, services
from opencharacters.api.ratelimit import retry_after_header
from opencharacters.domain.errors import BadRequest, TooManyRequests, Unauthorized
from opencharacters.store.accounts import organization_for_key

RUNWAY_VERSION = "2024-11-06"
bearer = HTTPBearer(auto_error=False, description="An OpenCharacters API key")


@dataclass(frozen=True, slots=True)
class Caller:
    org_id: str
    org_name: str


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "Missing API key: send the header 'Authorization: Bearer <your API key>'."
        )
    return credentials.credentials


def api_caller(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    x_runway_version: str | None = Header(
        default=None, description=f"Must be {RUNWAY_VERSION}, as Runway requires."
    ),
    svc: Services = Depends(services),
) -> Caller:
    key = bearer_token(credentials)
    with svc.db.session() as db:
        org = organization_for_key(db, key)
        if org is None:
            raise Unauthorized("Invalid API key: it does not exist or was revoked.")
        caller = Caller(org.id, org.name)
    if x_runway_version is None:
        raise BadRequest(f"The X-Runway-Version header is required; send {RUNWAY_VERSION}.")
    if x_runway_version != RUNWAY_VERSION:
        raise BadRequest(
            f"Unsupported X-Runway-Version {x_runway_version!r}; this server speaks "
            f"{RUNWAY_VERSION}."
        )
    wait = svc.rate_limiter.acquire(caller.org_id)
    if wait > 0:
        raise TooManyRequests(
            f"Too many requests for this organization (limit "
            f"{svc.settings.rate_limit_per_minute} per minute); retry in {wait:.1f} s.",
            headers=retry_after_header(wait),
        )
    return caller
