"""The API's side of the media workers: signalling forwarded to the worker holding a session.

With the LiveKit transport, consume asks that worker to join the session's room (`join`).
WHIP offers and hang-ups are reverse-proxied (not redirected: a browser's fetch and every client
keep talking to the API's public URL, CORS included) to the worker's internal address, found in
the database. Cancels are written to the database first (the truth) and then pushed to the worker
so its call ends at once; the worker also notices the status at its next heartbeat. The
developer's backend WebSocket is relayed to the worker frame by frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import aiohttp
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from opencharacters.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.engine.live.admission import (
    INTERNAL_HEADER,
    check_media_token,
    internal_token,
    same,
)
from opencharacters.http_errors import HttpError
from opencharacters.settings import Settings
from opencharacters.store import workers as store
from opencharacters.store.db import Database
from opencharacters.store.tables import RealtimeSession

log = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 30.0
"""An offer is answered once the worker's peer has gathered its candidates (well under this)."""
CONTROL_TIMEOUT_S = 2.0
BACKEND_WAIT_S = 120.0
"""A backend may attach before a worker has claimed the session; it waits this long for one."""


class WorkerGateway:
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self._token = internal_token(settings.resolved_secret_key)
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(headers={INTERNAL_HEADER: self._token})
        return self._http

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    def _address(self, session_id: str) -> tuple[RealtimeSession | None, str | None]:
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None:
                return None, None
            db.expunge(session)
            _, address = store.worker_address(db, session_id, self._settings.worker_lease_s)
            return session, address

    # ----- WHIP ------------------------------------------------------------------------------

    async def offer(self, session_id: str, token: str, sdp: bytes) -> str:
        session, address = await asyncio.to_thread(self._address, session_id)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        check_media_token(session, token)  # the worker checks again; this answers early
        if address is None:
            raise ServiceUnavailable(
                "The media worker holding this session is not reachable; create a new session."
            )
        url = f"{address}/internal/v1/sessions/{session_id}/whip"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
        status, body = await self._send("POST", url, headers=headers, data=sdp)
        if status != 201:
            raise _relayed(status, body)
        return body

    async def join(self, session_id: str, token: str) -> None:
        """LiveKit transport: asks the worker holding the session to join its room now."""
        session, address = await asyncio.to_thread(self._address, session_id)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        if address is None:
            raise ServiceUnavailable(
                "The media worker holding this session is not reachable; create a new session."
            )
        url = f"{address}/internal/v1/sessions/{session_id}/join"
        status, body = await self._send("POST", url, headers={"Authorization": f"Bearer {token}"})
        if status != 204:
            raise _relayed(status, body)

    async def hang_up(self, session_id: str, token: str) -> None:
        session, address = await asyncio.to_thread(self._address, session_id)
        if session is None or address is None:
            raise NotFound(f"No live call for session {session_id} with this token.")
        url = f"{address}/internal/v1/sessions/{session_id}/whip"
        status, body = await self._send("DELETE", url, headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            raise _relayed(status, body)

    async def _send(self, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
        try:
            async with self._client().request(
                method, url, timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S), **kwargs
            ) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("forwarding %s %s failed: %s", method, url, exc)
            raise ServiceUnavailable(
                "The media worker holding this session did not answer; retry in a moment."
            ) from None

    # ----- call control ----------------------------------------------------------------------

    async def ended(self, session_id: str, status: str) -> None:
        """The session just ended in the database: end its call in its worker now."""
        _, address = await asyncio.to_thread(self._address, session_id)
        if address is None:
            return
        url = f"{address}/internal/v1/sessions/{session_id}/end"
        try:
            async with self._client().post(
                url, params={"status": status}, timeout=aiohttp.ClientTimeout(CONTROL_TIMEOUT_S)
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The worker sees the status at its next heartbeat anyway.
            log.info("telling the worker that %s ended failed: %s", session_id, exc)

    def wake_workers(self) -> None:
        """A session is waiting: ask the live workers to claim now rather than at their poll."""
        task = asyncio.create_task(self._wake_all())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _wake_all(self) -> None:
        def addresses() -> list[str]:
            with self._db.session() as db:
                workers = store.live_workers(db, self._settings.worker_lease_s)
                return [worker.address for worker in workers]

        for address in await asyncio.to_thread(addresses):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._client().post(
                    f"{address}/internal/v1/wake", timeout=aiohttp.ClientTimeout(1.0)
                ) as response:
                    await response.read()

    # ----- the developer's backend -----------------------------------------------------------

    def backend_token(self, session_id: str) -> str:
        """The session's backend token, minted once and kept in the database for any process."""
        with self._db.write_session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None:
                raise NotFound(f"Realtime session {session_id} not found.")
            if session.backend_token is None:
                session.backend_token = secrets.token_urlsafe(32)
            return session.backend_token

    async def relay_backend(self, session_id: str, token: str, websocket: WebSocket) -> None:
        """Serves the public backend socket by relaying it to the worker's."""
        expected = await asyncio.to_thread(self._backend_token_of, session_id)
        await websocket.accept()
        if not expected or not same(expected, token):
            await websocket.close(4401, "invalid backend token for this session")
            return
        address = await self._wait_for_worker(session_id)
        if address is None:
            await websocket.close(4410, "the session ended before a media worker took it")
            return
        url = f"{address.replace('http', 'ws', 1)}/internal/v1/sessions/{session_id}/backend"
        try:
            async with self._client().ws_connect(url, params={"token": token}) as upstream:
                await _pump(websocket, upstream)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("session %s: the backend relay failed: %s", session_id, exc)
            with contextlib.suppress(Exception):
                await websocket.close(1011, "the media worker is not reachable")

    def _backend_token_of(self, session_id: str) -> str | None:
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            return None if session is None else session.backend_token

    async def _wait_for_worker(self, session_id: str) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACKEND_WAIT_S
        while loop.time() < deadline:
            session, address = await asyncio.to_thread(self._address, session_id)
            if session is None or SessionStatus(session.status) in TERMINAL:
                return None
            if address is not None:
                return address
            await asyncio.sleep(0.25)
        return None


async def _pump(websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def down() -> None:  # worker → backend
        async for message in upstream:
            if message.type == aiohttp.WSMsgType.TEXT:
                await websocket.send_text(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                break
        code = upstream.close_code or 1000
        with contextlib.suppress(Exception):
            await websocket.close(code if code >= 1000 else 1000, "session ended")

    async def up() -> None:  # backend → worker
        try:
            while True:
                await upstream.send_str(await websocket.receive_text())
        except WebSocketDisconnect:
            await upstream.close()

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _relayed(status: int, body: str) -> DomainError:
    """The worker's `{"error": ...}` answer, as the same error here."""
    import json

    try:
        message = str(json.loads(body).get("error") or body)
    except (ValueError, AttributeError):
        message = body or f"The media worker answered {status}."
    kinds: dict[int, type[DomainError]] = {
        400: BadRequest,
        401: Unauthorized,
        404: NotFound,
        409: Conflict,
        503: ServiceUnavailable,
    }
    kind = kinds.get(status)
    if kind is None:
        return HttpError(status if 400 <= status < 600 else 502, message)
    return kind(message)
