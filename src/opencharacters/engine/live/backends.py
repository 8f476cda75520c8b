"""`backend_rpc` tools: the developer's backend attached to a live session over a WebSocket.

`POST /v1/realtime_sessions/{id}/connect_backend` (API key) mints a token; the backend opens
`{url}` with it and answers the calls the worker makes. One backend per session, as Runway allows.

Wire protocol (JSON text frames):
    server → backend   {"type": "rpc", "id", "method", "args", "timeoutMs"}
    backend → server   {"type": "rpc_result", "id", "result"} | {"type": "rpc_error", "id", "error"}
    server → backend   {"type": "session_ended"} before the server closes the socket
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from opencharacters.dialogue.tools import ToolOutcome

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024


class BackendSocket(Protocol):
    async def send_text(self, data: str) -> None: ...

    async def receive_text(self) -> str: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class BackendRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(slots=True)
class _Link:
    token: str
    socket: BackendSocket | None = None
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)


class BackendLinks:
    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}
        self._counter = 0

    def mint(self, session_id: str) -> str:
        """A fresh token for the session's backend (a new one replaces an unused old one)."""
        link = self._links.get(session_id)
        if link is not None and link.socket is not None:
            return link.token  # already attached: the same credentials stay valid
        token = secrets.token_urlsafe(32)
        self._links[session_id] = _Link(token)
        return token

    def admit(self, session_id: str, token: str) -> None:
        """Accepts `token` for the session's backend: the token connect_backend minted in an API
        process and kept in the database (the worker serves the socket)."""
        link = self._links.get(session_id)
        if link is None or (link.socket is None and link.token != token):
            self._links[session_id] = _Link(token)

    def connected(self, session_id: str) -> bool:
        link = self._links.get(session_id)
        return link is not None and link.socket is not None

    async def attach(self, session_id: str, token: str, socket: BackendSocket) -> None:
        """Serves one backend connection until it closes or the session ends."""
        link = self._links.get(session_id)
        if link is None or not hmac.compare_digest(link.token.encode(), token.encode()):
            raise BackendRefused(4401, "invalid backend token for this session")
        if link.socket is not None:
            raise BackendRefused(4409, "a backend is already attached to this session")
        link.socket = socket
        try:
            while True:
                raw = await socket.receive_text()
                self._receive(session_id, link, raw)
        finally:
            link.socket = None
            for future in link.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the backend disconnected"))
            link.pending.clear()

    def _receive(self, session_id: str, link: _Link, raw: str) -> None:
        if len(raw) > MAX_MESSAGE_BYTES:
            log.info("session %s: ignored an oversized backend message", session_id)
            return
        try:
            message = json.loads(raw)
        except ValueError:
            log.info("session %s: ignored a backend message that is not JSON", session_id)
            return
        if not isinstance(message, dict):
            return
        future = link.pending.pop(str(message.get("id")), None)
        if future is None or future.done():
            return  # late (after its timeout) or unknown: nobody waits for it any more
        if message.get("type") == "rpc_error":
            future.set_exception(RuntimeError(str(message.get("error") or "backend error")))
        else:
            future.set_result(message.get("result"))

    async def call(
        self, session_id: str, method: str, args: dict[str, Any], timeout_s: float
    ) -> ToolOutcome:
        started = time.perf_counter()
        link = self._links.get(session_id)
        if link is None or link.socket is None:
            return ToolOutcome.since(started, error="no backend is connected to this session")
        self._counter += 1
        call_id = f"rpc_{self._counter}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.pending[call_id] = future
        try:
            await link.socket.send_text(
                json.dumps(
                    {
                        "type": "rpc",
                        "id": call_id,
                        "method": method,
                        "args": args,
                        "timeoutMs": round(timeout_s * 1000),
                    }
                )
            )
            result = await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return ToolOutcome.since(
                started, error=f"the backend did not answer within {timeout_s:g} s"
            )
        except (ConnectionError, RuntimeError, OSError) as exc:
            return ToolOutcome.since(started, error=str(exc) or type(exc).__name__)
        finally:
            link.pending.pop(call_id, None)
        return ToolOutcome.since(started, result=result)

    async def end(self, session_id: str) -> None:
        """The session is over: tell its backend and forget the link."""
        link = self._links.pop(session_id, None)
        if link is None or link.socket is None:
            return
        try:
            await link.socket.send_text(json.dumps({"type": "session_ended"}))
            await link.socket.close(1000, "session ended")
        except Exception:  # already gone
            log.debug("session %s: closing the backend link failed", session_id, exc_info=True)
