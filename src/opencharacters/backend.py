"""Answer a live session's `backend_rpc` tools from your own Python backend.

    from opencharacters.backend import SessionBackend

    backend = SessionBackend()              # RUNWAYML_BASE_URL / RUNWAYML_API_SECRET

    @backend.method("check_order_status")
    async def check_order_status(args):
        return {"status": "shipped", "eta": "2025-01-17"}

    await backend.serve(session_id)          # until the session ends

Like Runway's Node RPC helper: one handler per tool name; a handler gets the arguments (a dict
already checked against the tool's parameters) and returns anything JSON can carry; an exception
becomes an error the avatar tells the caller about. Handlers may be plain functions or async."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any | Awaitable[Any]]
RUNWAY_VERSION = "2024-11-06"


class SessionBackend:
    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        self.base_url = (
            base_url or os.environ.get("RUNWAYML_BASE_URL") or "http://127.0.0.1:8000"
        ).rstrip("/")
        key = api_key or os.environ.get("RUNWAYML_API_SECRET")
        if not key:
            raise ValueError("give api_key or set RUNWAYML_API_SECRET")
        self.api_key = key
        self._handlers: dict[str, Handler] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """Every call received (method, args), in order: handy in tests and logs."""

    def method(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers[name] = handler
            return handler

        return register

    async def connect(self, session_id: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": RUNWAY_VERSION}
        url = f"{self.base_url}/v1/realtime_sessions/{session_id}/connect_backend"
        async with aiohttp.ClientSession() as http, http.post(url, headers=headers) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"connect_backend answered {response.status}: {body[:300]}")
            result: dict[str, str] = json.loads(body)
            return result

    async def serve(self, session_id: str, attached: asyncio.Event | None = None) -> None:
        """Answers the session's calls until it ends (or the connection drops)."""
        credentials = await self.connect(session_id)
        headers = {"Authorization": f"Bearer {credentials['token']}"}
        running: set[asyncio.Task[None]] = set()
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(credentials["url"], headers=headers, heartbeat=20) as socket,
        ):
            if attached is not None:
                attached.set()
            async for frame in socket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                message = json.loads(frame.data)
                if message.get("type") == "session_ended":
                    break
                if message.get("type") == "rpc":
                    task = asyncio.ensure_future(self._answer(socket, message))
                    running.add(task)
                    task.add_done_callback(running.discard)
        for task in running:
            task.cancel()

    async def _answer(
        self, socket: aiohttp.ClientWebSocketResponse, message: dict[str, Any]
    ) -> None:
        method = str(message.get("method"))
        args = message.get("args") or {}
        self.calls.append((method, args))
        handler = self._handlers.get(method)
        reply: dict[str, Any] = {"id": message.get("id")}
        if handler is None:
            reply.update(type="rpc_error", error=f"no handler for {method}")
        else:
            try:
                result = handler(args)
                if inspect.isawaitable(result):
                    result = await result
                reply.update(type="rpc_result", result=result)
            except Exception as exc:  # the developer's bug becomes the call's error
                log.exception("backend handler %s failed", method)
                reply.update(type="rpc_error", error=f"{type(exc).__name__}: {exc}")
        if not socket.closed:
            await socket.send_str(json.dumps(reply, default=str))
