"""/v1/realtime_sessions: create, retrieve, cancel, consume."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from opencharacters.api.auth import Caller, api_caller, bearer, bearer_token
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from opencharacters.domain.requests import SessionCreate
from opencharacters.domain.responses import session_json
from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.store.avatars import ready_avatar
from opencharacters.store.sessions import count_active, create_session, mark_consumed, set_status
from opencharacters.store.tables import RealtimeSession

router = APIRouter(tags=["realtime sessions"])


def _get(db: Session, org_id: str, session_id: str) -> RealtimeSession:
    session: RealtimeSession | None = db.get(RealtimeSession, session_id)
    if session is None or session.organization_id != org_id:
        raise NotFound(f"Realtime session {session_id} not found.")
    return session


def _create(svc: Services, caller: Caller, body: SessionCreate) -> str:
    if body.integration is not None or body.livekit is not None:
        key = "integration" if body.integration is not None else "livekit"
        raise BadRequest(
            f"{key}: external LiveKit/ElevenLabs integrations are not supported by this server "
            "yet; omit it to use the built-in WebRTC transport"
        )
    with svc.db.session() as db:
        avatar = ready_avatar(db, caller.org_id, body.avatar, "sessions")
        limit = svc.settings.max_concurrent_sessions_per_org
        if count_active(db, caller.org_id) >= limit:
            raise TooManyRequests(
                f"This organization already has {limit} active sessions (the limit); "
                "end one or retry later.",
                headers={"Retry-After": "5"},
            )
        session = create_session(
            db,
            org_id=caller.org_id,
            avatar=avatar,
            max_duration=body.maxDuration,
            personality=body.personality,
            start_script=body.startScript,
            tools=[tool.model_dump(mode="json") for tool in body.tools],
        )
        return session.id


@router.post("/v1/realtime_sessions", summary="Create a realtime session")
async def create_realtime_session(
    body: SessionCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    session_id = await asyncio.to_thread(_create, svc, caller, body)
    svc.workers.wake_workers()
    return {"id": session_id}


def _retrieve(svc: Services, caller: Caller, session_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return session_json(_get(db, caller.org_id, session_id))


@router.get("/v1/realtime_sessions/{id}", summary="Retrieve a realtime session")
async def retrieve_realtime_session(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _cancel(svc: Services, caller: Caller, session_id: str) -> bool:
    """CANCELLED in the database (the truth); True if a worker may be running its call."""
    with svc.db.write_session() as db:
        session = _get(db, caller.org_id, session_id)
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


def _consume(svc: Services, session_id: str, key: str) -> dict[str, Any]:
    with svc.db.session() as db:
        session = db.get(RealtimeSession, session_id)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        if session.status != SessionStatus.READY or session.session_key is None:
            raise Conflict(
                f"The session is {session.status}; credentials can be consumed only while READY."
            )
        if not hmac.compare_digest(session.session_key.encode(), key.encode()):
            raise Unauthorized("Invalid session key for this session.")
        token = mark_consumed(db, session)
        if not token:
            raise Conflict("These session credentials were already consumed; create a new session.")
        base = svc.settings.resolved_public_url
        return {
            "url": f"{base}/v1/realtime_sessions/{session.id}/whip",
            "token": token,
            "roomName": session.id,
        }


@router.post(
    "/v1/realtime_sessions/{id}/consume",
    summary="Exchange the sessionKey for media credentials (once)",
    description="Authenticated by `Authorization: Bearer <sessionKey>`; no X-Runway-Version.",
)
async def consume_realtime_session(
    id: IdPath,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    session_id = check_id(id, "id")
    key = bearer_token(credentials)
    return await asyncio.to_thread(_consume, svc, session_id, key)
