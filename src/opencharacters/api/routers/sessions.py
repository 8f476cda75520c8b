"""/v1/realtime_sessions: create, retrieve, cancel, consume."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.api.auth import (
    Caller,
    api_caller,
    bearer,
    client_address,
    refuse_blocked_address,
)
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    Unauthorized,
)
from opencharacters.domain.requests import SessionCreate
from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.engine.live import livekit_room
from opencharacters.store.avatars import ready_avatar
from opencharacters.store.limits import check_session_limits, server_defaults
from opencharacters.store.locks import lock_organization
from opencharacters.store.queue import active_sessions, queue_place
from opencharacters.store.responses import session_json
from opencharacters.store.sessions import create_session, mark_consumed, set_status
from opencharacters.store.tables import Avatar, RealtimeSession

router = APIRouter(tags=["realtime sessions"])


def _get(db: Session, org_id: str, session_id: str, *, for_update: bool = False) -> RealtimeSession:
    session: RealtimeSession | None = db.get(
        RealtimeSession, session_id, with_for_update=for_update
    )
    if session is None or session.organization_id != org_id:
        raise NotFound(f"Realtime session {session_id} not found.")
    return session


def _create(svc: Services, caller: Caller, body: SessionCreate) -> str:
    if body.integration is not None and body.integration.type == "elevenlabs":
        raise BadRequest(
            "integration.type: 'elevenlabs' is not supported by this server (it has no "
            "ElevenLabs bridge); use type 'livekit' to give your own LiveKit agent this "
            "avatar's face, or omit integration for a conversation with the avatar itself"
        )
    room = body.livekit_integration()
    if body.avatar.type == "runway-preset":
        svc.presets.ensure(body.avatar.presetId)
    with svc.db.session() as db:
        avatar = ready_avatar(db, caller.org_id, body.avatar, "sessions")
        # Check and insert as one step: concurrent creations for this organization wait here.
        lock_organization(db, caller.org_id)
        check_session_limits(db, caller.org_id, server_defaults(svc.settings))
        session = create_session(
            db,
            org_id=caller.org_id,
            avatar=avatar,
            max_duration=body.maxDuration,
            personality=body.personality,
            start_script=body.startScript,
            tools=[tool.model_dump(mode="json") for tool in body.tools],
            integration=room.model_dump(mode="json") if room is not None else None,
        )
        return session.id


@router.post("/v1/realtime_sessions", summary="Create a realtime session")
async def create_realtime_session(
    body: SessionCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    session_id = await asyncio.to_thread(_create, svc, caller, body)
    svc.workers.wake_workers()
    return {"id": session_id}


def _with_queue_place(db: Session, session: RealtimeSession) -> dict[str, Any]:
    body = session_json(session)
    if session.status == SessionStatus.NOT_READY:
        # OpenCharacters extension (docs/api.md): how far back in the wait for a slot.
        place = queue_place(db, session)
        body["queuePosition"] = place.position
        body["sessionsAhead"] = place.ahead
    return body


def _retrieve(svc: Services, caller: Caller, session_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return _with_queue_place(db, _get(db, caller.org_id, session_id))


def _list_active(svc: Services, caller: Caller) -> dict[str, Any]:
    with svc.db.session() as db:
        sessions = active_sessions(db, caller.org_id)
        ids = {s.avatar_id for s in sessions}
        names = (
            {a.id: a.name for a in db.scalars(select(Avatar).where(Avatar.id.in_(ids)))}
            if ids
            else {}
        )
        data = []
        for session in sessions:
            body = _with_queue_place(db, session)
            body.pop("sessionKey", None)  # credentials only from the session's own GET
            body["avatar"] = {"id": session.avatar_id, "name": names.get(session.avatar_id)}
            data.append(body)
        return {"data": data}


@router.get(
    "/v1/realtime_sessions",
    summary="List the organization's active sessions (OpenCharacters extension)",
    description="Sessions waiting for, holding or using a call slot (NOT_READY, READY, "
    "RUNNING), newest first; waiting ones carry queuePosition and sessionsAhead. Never "
    "includes sessionKey.",
)
async def list_active_realtime_sessions(
    caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_list_active, svc, caller)


@router.get("/v1/realtime_sessions/{id}", summary="Retrieve a realtime session")
async def retrieve_realtime_session(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _cancel(svc: Services, caller: Caller, session_id: str) -> bool:
    """CANCELLED in the database (the truth); True if a worker may be running its call."""
    with svc.db.write_session() as db:
        # Locked: a call ending meanwhile must not be overwritten by a stale CANCELLED.
        session = _get(db, caller.org_id, session_id, for_update=True)
        if SessionStatus(session.status) in TERMINAL:
            return False  # already over: cancelling again changes nothing
        held = session.worker_id is not None
        set_status(db, session, SessionStatus.CANCELLED)
        return held


@router.delete("/v1/realtime_sessions/{id}", status_code=204, summary="Cancel a realtime session")
async def cancel_realtime_session(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    session_id = check_id(id, "id")
    if await asyncio.to_thread(_cancel, svc, caller, session_id):
        # The worker ends the call now (it would also see the status within a heartbeat).
        await svc.workers.ended(session_id, SessionStatus.CANCELLED)
    svc.scheduler.wake()
    return Response(status_code=204)


SESSION_KEY_NEEDED = (
    "Missing session key: send 'Authorization: Bearer <sessionKey>' with the sessionKey that "
    "GET /v1/realtime_sessions/{id} shows while the session is READY."
)


def _consume(svc: Services, session_id: str, key: str, address: str) -> str:
    """Consumes the session key; returns the media token the caller's connection carries."""
    refuse_blocked_address(svc, address)
    with svc.db.session() as db:
        session = db.get(RealtimeSession, session_id)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        # The key first: without it, nothing about the session (its status) is revealed.
        expected = session.session_key
        if expected is None or not hmac.compare_digest(expected.encode(), key.encode()):
            svc.auth_failures.acquire(address)
            raise Unauthorized(
                "Invalid session key for this session: send the sessionKey of this session "
                "(not an API key)."
            )
        if session.integration is not None:
            raise Conflict(
                "This session's avatar joins your own LiveKit room (integration type livekit); "
                "there are no credentials to consume."
            )
        if session.status != SessionStatus.READY:
            raise Conflict(
                f"The session is {session.status}; credentials can be consumed only while READY."
            )
        token = mark_consumed(db, session)
        if not token:
            raise Conflict("These session credentials were already consumed; create a new session.")
        return token


@router.post(
    "/v1/realtime_sessions/{id}/consume",
    summary="Exchange the sessionKey for media credentials (once)",
    description="Authenticated by `Authorization: Bearer <sessionKey>`; no X-Runway-Version. "
    "`url` is the session's WHIP endpoint (the embedded transport) or, with the LiveKit "
    "transport, the LiveKit server's URL, `token` then a LiveKit access token for the room "
    "`roomName` (the session id).",
)
async def consume_realtime_session(
    id: IdPath,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    session_id = check_id(id, "id")
    if credentials is None or not credentials.credentials:
        raise Unauthorized(SESSION_KEY_NEEDED)
    address = client_address(request.scope)
    token = await asyncio.to_thread(_consume, svc, session_id, credentials.credentials, address)
    if svc.settings.transport == "livekit":
        # The avatar joins the session's room first; the caller's token is for that room only.
        await svc.workers.join(session_id, token)
        return livekit_room.caller_credentials(svc.settings.livekit, session_id)
    return {
        "url": f"{svc.settings.resolved_public_url}/v1/realtime_sessions/{session_id}/whip",
        "token": token,
        "roomName": session_id,
    }
