"""WHIP signalling (RFC 9725) for a live call: the caller's complete SDP offer in, answer out.

`consume` hands out `{url, token}`; the client POSTs its offer to `url` with
`Authorization: Bearer <token>` and `Content-Type: application/sdp`, and gets `201 Created`
with the answer and a `Location` it may DELETE to hang up. No trickle ICE: the offer must already
hold its candidates (browsers: wait for ICE gathering to complete before sending).

The call runs in the media worker holding the session: the offer and the hang-up are forwarded
there (worker/gateway.py: a reverse proxy, not a redirect) and its answer returned as is."""

from __future__ import annotations

import asyncio
import hmac
import re

from aiortc.sdp import SessionDescription
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from opencharacters.api.auth import bearer, client_address, refuse_blocked_address
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from opencharacters.engine.live.admission import MAX_OFFER_BYTES
from opencharacters.store.tables import RealtimeSession

router = APIRouter(tags=["realtime sessions"])

SDP = "application/sdp"


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "Missing media token: send 'Authorization: Bearer <token>' with the token that "
            "consume returned."
        )
    return credentials.credentials


_SDP_LINE = re.compile(r"^[a-z]=")
_MEDIA_LINE = re.compile(r"^m=\S+ \d+(/\d+)? \S+( \S+)+$")


def offer_problem(sdp: str) -> str | None:
    """Why `sdp` cannot be a WebRTC offer, in words a developer can act on; None if it can."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0].strip() != "v=0":
        return "body: not an SDP offer (its first line must be v=0)"
    for number, line in enumerate(lines, start=1):
        if not _SDP_LINE.match(line):
            return f"body: line {number} of the SDP offer is not '<letter>=<value>': {line[:60]!r}"
        if line.startswith("m=") and not _MEDIA_LINE.match(line.strip()):
            return (
                f"body: line {number} of the SDP offer is not a media line "
                f"('m=<media> <port> <proto> <formats>'): {line[:60]!r}"
            )
    if not any(line.startswith("m=") for line in lines):
        return "body: the SDP offer has no media (m=) lines"
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser asserts; say where it gave up
        return f"body: the SDP offer could not be parsed ({type(exc).__name__}: {exc})"[:300]
    for media in parsed.media:
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            return (
                f"body: the SDP offer's {media.kind} section has no ICE credentials "
                "(a=ice-ufrag and a=ice-pwd)"
            )
        if media.dtls is None or not media.dtls.fingerprints:
            return (
                f"body: the SDP offer's {media.kind} section has no DTLS fingerprint "
                "(a=fingerprint); WebRTC media must be encrypted"
            )
    return None


def _check_token(svc: Services, session_id: str, token: str, address: str) -> None:
    """The media token first: a wrong one learns nothing about the session's state."""
    refuse_blocked_address(svc, address)
    with svc.db.session() as db:
        session = db.get(RealtimeSession, session_id)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        expected = session.connect_token or ""
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        svc.auth_failures.acquire(address)
        raise Unauthorized("Invalid media token for this session: send the token consume returned.")


def resource_path(session_id: str) -> str:
    return f"/v1/realtime_sessions/{session_id}/whip/call"


@router.post(
    "/v1/realtime_sessions/{id}/whip",
    status_code=201,
    summary="Connect to a live call (WHIP offer)",
    description="Body: the complete SDP offer (`application/sdp`). Authenticated by the token "
    "from consume. Answers 201 with the SDP answer and a Location to DELETE to hang up.",
    responses={201: {"content": {SDP: {}}}},
)
async def whip_offer(
    id: IdPath,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> Response:
    session_id = check_id(id, "id")
    token = _token(credentials)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != SDP:
        raise UnsupportedMediaType(
            f"Content-Type: send the offer as {SDP} (got {content_type or 'none'})"
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_OFFER_BYTES:
        raise PayloadTooLarge(f"body: the SDP offer is over {MAX_OFFER_BYTES} bytes")
    await asyncio.to_thread(_check_token, svc, session_id, token, client_address(request.scope))
    body = await request.body()
    if len(body) > MAX_OFFER_BYTES:
        raise PayloadTooLarge(f"body: the SDP offer is over {MAX_OFFER_BYTES} bytes")
    sdp = body.decode("utf-8", errors="replace")
    problem = offer_problem(sdp)
    if problem:
        raise BadRequest(problem)
    answer = await svc.workers.offer(session_id, token, body)
    location = svc.settings.resolved_public_url + resource_path(session_id)
    return Response(
        content=answer,
        status_code=201,
        media_type=SDP,
        headers={"Location": location},
    )


@router.delete(
    "/v1/realtime_sessions/{id}/whip/call",
    summary="Hang up a live call (WHIP resource)",
    description="Authenticated by the same token as the offer. The session COMPLETES.",
)
async def whip_hang_up(
    id: IdPath,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> Response:
    session_id = check_id(id, "id")
    await svc.workers.hang_up(session_id, _token(credentials))
    return Response(status_code=200)


@router.patch("/v1/realtime_sessions/{id}/whip/call", include_in_schema=False)
async def whip_trickle(id: IdPath) -> Response:
    raise MethodNotAllowed(
        "Trickle ICE is not supported: send a complete offer (gather all candidates first).",
        headers={"Allow": "DELETE"},
    )
