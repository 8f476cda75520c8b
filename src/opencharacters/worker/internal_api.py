"""A media worker's internal HTTP endpoint: what API processes forward to the call's worker.

Every request but /metrics and /readyz carries the deployment's internal token
(`X-OpenCharacters-Internal`); WHIP requests also carry the caller's media token, which the
worker checks as it always did. Errors leave as `{"error": "..."}` with the status the API
relays unchanged."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Header, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route
from starlette.websockets import WebSocketDisconnect

from opencharacters.domain.errors import Unauthorized
from opencharacters.engine.live.admission import INTERNAL_HEADER, same
from opencharacters.engine.live.backends import BackendRefused
from opencharacters.engine.live.calls import LiveCalls
from opencharacters.engine.live.media_path import check_media_path
from opencharacters.http_errors import install_domain_error_handler
from opencharacters.store.db import Database
from opencharacters.store.stats import ping
from opencharacters.store.tables import RealtimeSession


class WorkerState(Protocol):
    worker_id: str
    slots: int

    def wake(self) -> None: ...


def _bearer(authorization: str) -> str:
    if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        raise Unauthorized(
            "Missing media token: send 'Authorization: Bearer <token>' with the token that "
            "consume returned."
        )
    return authorization[7:].strip()


def internal_app(live: LiveCalls, db: Database, state: WorkerState, token: str) -> FastAPI:
    def internal(
        credential: str = Header(default="", alias=INTERNAL_HEADER),
    ) -> None:
        if not credential or not same(credential, token):
            raise Unauthorized("Internal endpoint: the deployment's internal token is required.")

    app = FastAPI(title="OpenCharacters media worker", dependencies=[Depends(internal)])
    install_domain_error_handler(app)

    @app.get("/internal/v1/worker")
    def describe() -> dict[str, Any]:
        return {"id": state.worker_id, "slots": state.slots, "calls": live.session_ids()}

    @app.post("/internal/v1/wake", status_code=204)
    def wake() -> Response:
        state.wake()
        return Response(status_code=204)

    @app.post("/internal/v1/sessions/{session_id}/whip", status_code=201)
    async def offer(
        session_id: str, request: Request, authorization: str = Header(default="")
    ) -> Response:
        body = await request.body()
        answer = await live.offer(
            session_id, _bearer(authorization), body.decode("utf-8", errors="replace")
        )
        return Response(content=answer, status_code=201, media_type="application/sdp")

    @app.post("/internal/v1/sessions/{session_id}/join", status_code=204)
    async def join(session_id: str, authorization: str = Header(default="")) -> Response:
        """LiveKit transport: the avatar joins the session's room (consume just minted the
        caller's token); the call runs until it ends like a WHIP call."""
        await live.join(session_id, _bearer(authorization))
        return Response(status_code=204)

    @app.delete("/internal/v1/sessions/{session_id}/whip")
    async def hang_up(session_id: str, authorization: str = Header(default="")) -> Response:
        await live.hang_up(session_id, _bearer(authorization))
        return Response(status_code=200)

    @app.post("/internal/v1/sessions/{session_id}/end")
    def end(session_id: str, status: str = "CANCELLED") -> dict[str, bool]:
        """The session ended through the API (already final in the database): end the call
        now; the caller sees the peer close. Does not wait for the recording to be stored."""
        if live.get(session_id) is None:
            return {"ended": False}
        live.end_for_status(session_id, status)
        return {"ended": True}

    @app.websocket("/internal/v1/sessions/{session_id}/backend")
    async def backend(session_id: str, websocket: WebSocket) -> None:
        if not same(websocket.headers.get(INTERNAL_HEADER, ""), token):
            await websocket.close(4401, "internal token required")
            return
        given = websocket.query_params.get("token", "")
        expected = await asyncio.to_thread(_backend_token, db, session_id)
        await websocket.accept()
        if expected:
            live.backends.admit(session_id, expected)
        try:
            await live.backends.attach(session_id, given, websocket)
        except BackendRefused as refused:
            await websocket.close(refused.code, refused.reason)
        except WebSocketDisconnect:
            pass

    install_ops_routes(app, live, db)
    return app


def install_ops_routes(app: FastAPI, live: LiveCalls, db: Database) -> None:
    """/metrics and /readyz for the operators' scraper and load checks, without the internal
    token (plain Starlette routes: the app's token dependency applies to API routes only).
    The worker's port is the deployment's private network's, never the callers'."""

    def metrics(_: Request) -> Response:
        return Response(generate_latest(live.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def readyz(_: Request) -> JSONResponse:
        failures: list[str] = []

        def database() -> None:
            with db.session() as session:
                ping(session)

        def media_path() -> None:
            check_media_path(live.settings)

        checks = (("database", database), ("blob store", live.blobs.check), ("media", media_path))
        for name, check in checks:
            try:
                await asyncio.wait_for(asyncio.to_thread(check), 5.0)
            except Exception as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                failures.append(f"{name} unreachable ({type(error).__name__}: {reason})"[:300])
        if failures:
            return JSONResponse({"error": "Not ready: " + "; ".join(failures) + "."}, 503)
        return JSONResponse({"status": "ready", "calls": len(live)})

    app.router.routes.append(Route("/metrics", metrics, methods=["GET"]))
    app.router.routes.append(Route("/readyz", readyz, methods=["GET"]))


def _backend_token(db: Database, session_id: str) -> str | None:
    with db.session() as s:
        session = s.get(RealtimeSession, session_id)
        return session.backend_token if session is not None else None
