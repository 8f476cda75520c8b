"""Request bodies: the caller is authenticated before a byte of the body is read, and every route's
body is capped while it streams in.

FastAPI reads and parses a JSON body before it runs a route's dependencies, so without this gate
an unauthenticated client could make the server hold (and parse) any amount of data before its
401. Here, a request that carries a body to an API-key route is authenticated first; a declared
`Content-Length` over the route's limit is refused at once; and a body without one (chunked) is
counted as it arrives and refused the moment it passes the limit. Refusals sent before the body
was read say `Connection: close`, so the rest of the upload is not even drained."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencharacters.api.auth import api_caller, authenticate, client_address
from opencharacters.api.context import Services
from opencharacters.api.route_index import RouteIndex
from opencharacters.domain.errors import DomainError
from opencharacters.http_errors import http_status

MiB = 1024 * 1024
DEFAULT_BODY_BYTES = 1 * MiB
# A data: URI may be 5,242,880 characters (referenceImage, voice and video audio, document
# files); with the other fields and JSON's escaped slashes, 7 MiB holds the largest valid body.
# (Document content, 200,000 characters, fits too, even spelled as \uXXXX escapes.)
MEDIA_BODY_BYTES = 7 * MiB
# Twenty tools of twenty parameters with long descriptions and enums fit with room to spare.
SESSION_BODY_BYTES = 2 * MiB
SMALL_BODY_BYTES = 64 * 1024

BODY_LIMITS: dict[tuple[str, str], int] = {
    ("POST", "/v1/avatars"): MEDIA_BODY_BYTES,
    ("PATCH", "/v1/avatars/{id}"): MEDIA_BODY_BYTES,
    ("POST", "/v1/voices"): MEDIA_BODY_BYTES,
    ("POST", "/v1/avatar_videos"): MEDIA_BODY_BYTES,
    ("POST", "/v1/documents"): MEDIA_BODY_BYTES,
    ("PATCH", "/v1/documents/{id}"): MEDIA_BODY_BYTES,
    ("POST", "/v1/realtime_sessions"): SESSION_BODY_BYTES,
    ("POST", "/v1/uploads"): SMALL_BODY_BYTES,
    ("POST", "/v1/organization/api_keys"): SMALL_BODY_BYTES,
    ("POST", "/v1/realtime_sessions/{id}/consume"): SMALL_BODY_BYTES,
}
"""Routes whose limit is not DEFAULT_BODY_BYTES (upload content: see `BodyGate`)."""
UPLOAD_CONTENT = ("POST", "/v1/uploads/{id}/content")
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads: FastAPI passes HTTPExceptions through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_limit_message(limit))


def body_limit_message(limit: int) -> str:
    return f"The request body is larger than this endpoint's limit of {limit} bytes."


@dataclass(frozen=True, slots=True)
class RouteRule:
    limit: int
    needs_api_key: bool


def _uses(dependant: Dependant, call: object) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def send_error(
    send: Send, status: int, message: str, headers: dict[str, str], *, close: bool
) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rules: dict[tuple[str, str], RouteRule] = {}

    def _rule(self, scope: Scope) -> RouteRule:
        application: FastAPI = scope["app"]
        index: RouteIndex = application.state.route_index
        route = index.route_for(scope)
        if route is None:
            return RouteRule(DEFAULT_BODY_BYTES, needs_api_key=False)
        rule = self._rules.get((scope["method"], route.path))
        if rule is None:
            key = (scope["method"], route.path)
            if key == UPLOAD_CONTENT:
                services: Services = application.state.services
                limit = services.settings.upload_max_bytes + UPLOAD_FORM_OVERHEAD_BYTES
            else:
                limit = BODY_LIMITS.get(key, DEFAULT_BODY_BYTES)
            rule = RouteRule(limit, _uses(route.dependant, api_caller))
            self._rules[key] = rule
        return rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope)
        declared = _declared_length(scope)
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        has_body = chunked or bool(declared)
        if has_body and rule.needs_api_key:
            services: Services = scope["app"].state.services
            try:
                caller = await asyncio.to_thread(
                    authenticate,
                    services,
                    _header(scope, b"authorization"),
                    _header(scope, b"x-runway-version"),
                    client_address(scope),
                )
            except DomainError as refused:
                await send_error(
                    send, http_status(refused), refused.message, refused.headers, close=True
                )
                return
            scope.setdefault("state", {})["caller"] = caller
        if declared is not None and declared > rule.limit:
            await send_error(send, 413, body_limit_message(rule.limit), {}, close=True)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.limit:
                    raise BodyTooLarge(rule.limit)
            return message

        await self.app(scope, counted, send)
