"""/sdk/...: the browser client (an ES module) and its demo call page, served from the package,
and LiveKit's browser client, which the client imports for calls over the LiveKit transport.

Any origin may load them (CORS `*`): a developer's own page imports
`<server>/sdk/opencharacters.js`. Not part of the API schema; see docs/js-client.md."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request, Response

from opencharacters.domain.errors import NotFound
from opencharacters.portal import LIVEKIT_CLIENT, static_path, vendor_path

router = APIRouter(include_in_schema=False)

FILES = {
    "opencharacters.js": "text/javascript; charset=utf-8",
    "call.html": "text/html; charset=utf-8",
    "livekit-client.js": "text/javascript; charset=utf-8",
}


def _source(name: str) -> Traversable:
    if name != "livekit-client.js":
        return static_path(name)
    path = vendor_path(*LIVEKIT_CLIENT)
    if not path.is_file():
        # Installed from npm at set-up, not shipped: say how to get it (WHIP calls need none).
        raise NotFound(
            "/sdk/livekit-client.js is not installed on this server: run `make setup` (or "
            "scripts/setup-web.sh, which needs npm) for browser calls over LiveKit."
        )
    return path


@cache
def _load(name: str) -> tuple[bytes, str]:
    data = _source(name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@router.api_route("/sdk/{name}", methods=["GET", "HEAD"])
def sdk_file(name: str, request: Request) -> Response:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound(f"No such file: /sdk/{name} (served: {', '.join(sorted(FILES))}).")
    data, etag = _load(name)
    headers = {
        "ETag": etag,
        # Revalidate every time: the file changes with the server's version, and it is small.
        "Cache-Control": "no-cache",
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else data
    response = Response(content=body, media_type=media_type, headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(data))
    return response
