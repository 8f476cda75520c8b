"""API-key authentication, the version header, the per-organization request rate, and the
per-address limit on failed authentication.

`authenticate` is the one check. The body gate (api/bodies.py) runs it before a request's body is
read and leaves the caller in the request state; the `api_caller` dependency then only picks it
up (and runs the check itself for requests without a body)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from opencharacters.api.context import Services, services
from opencharacters.api.ratelimit import retry_after_header
from opencharacters.domain.errors import BadRequest, TooManyRequests, Unauthorized
from opencharacters.store.accounts import organization_for_key

RUNWAY_VERSION = "2024-11-06"
bearer = HTTPBearer(auto_error=False, description="An OpenCharacters API key")
MISSING_KEY = "Missing API key: send the header 'Authorization: Bearer <your API key>'."


@dataclass(frozen=True, slots=True)
class Caller:
    org_id: str
    org_name: str


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_from_header(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer <credentials>` header, else None."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(MISSING_KEY)
    return credentials.credentials


def refuse_blocked_address(svc: Services, address: str) -> None:
    """429 while this address has used up its allowance of failed authentications."""
    wait = svc.auth_failures.wait(address)
    if wait > 0:
        raise TooManyRequests(
            f"Too many requests with invalid credentials from this address (limit "
            f"{svc.settings.auth_failures_per_minute} per minute); retry in {wait:.0f} s.",
            headers=retry_after_header(wait),
        )


def authenticate(
    svc: Services, authorization: str | None, version: str | None, address: str
) -> Caller:
    """Raises 401 (no or unknown key), 429 (too many failures from `address`, or the
    organization's request rate), 400 (version header). Blocking: run it in a thread."""
    refuse_blocked_address(svc, address)
    key = bearer_from_header(authorization)
    if key is None:
        raise Unauthorized(MISSING_KEY)
    with svc.db.session() as db:
        org = organization_for_key(db, key)
        if org is None:
            svc.auth_failures.acquire(address)
            raise Unauthorized("Invalid API key: it does not exist or was revoked.")
        caller = Caller(org.id, org.name)
    if version is None:
        raise BadRequest(f"The X-Runway-Version header is required; send {RUNWAY_VERSION}.")
    if version != RUNWAY_VERSION:
        raise BadRequest(
            f"Unsupported X-Runway-Version {version!r}; this server speaks {RUNWAY_VERSION}."
        )
    wait = svc.rate_limiter.acquire(caller.org_id)
    if wait > 0:
        raise TooManyRequests(
            f"Too many requests for this organization (limit "
            f"{svc.settings.rate_limit_per_minute} per minute); retry in {wait:.1f} s.",
            headers=retry_after_header(wait),
        )
    return caller


def api_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    x_runway_version: str | None = Header(
        default=None, description=f"Must be {RUNWAY_VERSION}, as Runway requires."
    ),
    svc: Services = Depends(services),
) -> Caller:
    checked = getattr(request.state, "caller", None)
    if isinstance(checked, Caller):
        return checked  # the body gate authenticated this request before reading its body
    return authenticate(
        svc,
        request.headers.get("authorization"),
        x_runway_version,
        client_address(request.scope),
    )
