"""CORS for the endpoints browsers call cross-origin: consume, signalling, uploads, files.

API-key endpoints stay same-origin only: a key belongs on the developer's server."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BROWSER_PATHS = re.compile(
    r"^/v1/(realtime_sessions/[^/]+/(consume|whip)(/.*)?|uploads/[^/]+/content|files/.+"
    r"|voice_presets/[^/]+/preview)$"
)
ALLOW_HEADERS = "Authorization, Content-Type, Range, X-Runway-Version"
EXPOSE_HEADERS = "Location, Content-Range, Accept-Ranges, Content-Length, ETag, Link"


class BrowserCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not BROWSER_PATHS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if scope["method"] == "OPTIONS" and origin and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (
                            b"access-control-allow-methods",
                            b"GET, HEAD, POST, DELETE, PATCH, OPTIONS",
                        ),
                        (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                        (b"access-control-max-age", b"600"),
                        (b"vary", b"Origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
