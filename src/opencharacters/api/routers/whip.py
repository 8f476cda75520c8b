"""WHIP signalling (RFC 9725) for a live call: the caller's complete SDP offer in, answer out.

`consume` hands out `{url, token}`; the client POSTs its offer to `url` with
`Authorization: Bearer <token>` and `Content-Type: application/sdp`, and gets `201 Created`
with the answer and a `Location` it may DELETE to hang up. No trickle ICE: the offer must already
hold its candidates (browsers: wait for ICE gathering to complete before sending).

The call runs in the media worker holding the session: the offer and the hang-up are forwarded
there (worker/gateway.py) and its answer returned as is."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from opencharacters.api.auth import bearer
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import (
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from opencharacters.worker.admission import MAX_OFFER_BYTES, check_offer_text

router = APIRouter(tags=["realtime sessions"])

SDP = "application/sdp"


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "Missing media token: send 'Authorization: Bearer <token>' with the token that "
            "consume returned."
        )
    return credentials.credentials


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
    body = await request.body()
    if len(body) > MAX_OFFER_BYTES:
        raise PayloadTooLarge(f"body: the SDP offer is over {MAX_OFFER_BYTES} bytes")
    check_offer_text(body.decode("utf-8", errors="replace"))
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
