"""`backend_rpc` tools: a developer's backend attaches to a live session (see engine/live).

The token is kept in the database; the socket is relayed to the media worker running the call."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, WebSocket

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import Conflict, NotFound
from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.engine.live import livekit_room
from opencharacters.store.tables import RealtimeSession

router = APIRouter(tags=["realtime sessions"])


def _check_session(svc: Services, org_id: str, session_id: str) -> None:
    with svc.db.session() as db:
        session = db.get(RealtimeSession, session_id)
        if session is None or session.organization_id != org_id:
            raise NotFound(f"Realtime session {session_id} not found.")
        if SessionStatus(session.status) in TERMINAL:
            raise Conflict(
                f"The session is {session.status}; a backend can attach only before it ends."
            )


@router.post(
    "/v1/realtime_sessions/{id}/connect_backend",
    summary="Credentials for your backend to answer the session's backend_rpc tools",
    description="Returns `{url, token, roomName}`: open a WebSocket to `url` with "
    "`Authorization: Bearer <token>` (or `?token=`) and answer `rpc` messages; see docs/tools.md. "
    "With the LiveKit transport `url` and `token` join the session's LiveKit room, where each "
    "tool is an RPC method (Runway's `@runwayml/avatars-node-rpc` answers them); see "
    "docs/livekit.md.",
)
async def connect_backend(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    session_id = check_id(id, "id")
    await asyncio.to_thread(_check_session, svc, caller.org_id, session_id)
    if svc.settings.transport == "livekit":
        # The backend joins the session's room and answers the tools as LiveKit RPC methods.
        return livekit_room.backend_credentials(svc.settings.livekit, session_id)
    token = await asyncio.to_thread(svc.workers.backend_token, session_id)
    base = svc.settings.resolved_public_url
    ws_base = (
        "wss://" + base[len("https://") :]
        if base.startswith("https://")
        else "ws://" + base[len("http://") :]
    )
    return {
        "url": f"{ws_base}/v1/realtime_sessions/{session_id}/backend",
        "token": token,
        "roomName": session_id,
    }


@router.websocket("/v1/realtime_sessions/{id}/backend")
async def backend_socket(id: str, websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    header = websocket.headers.get("authorization", "")
    token = (
        header[7:]
        if header.lower().startswith("bearer ")
        else websocket.query_params.get("token", "")
    )
    # Relayed to the worker that runs the call (it may not have claimed the session yet).
    await svc.workers.relay_backend(id, token, websocket)
