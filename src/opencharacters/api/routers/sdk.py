"""/sdk/...: the browser client (an ES module) and its demo call page, served from the package.

Any origin may load them (CORS `*`): a developer's own page imports
`<server>/sdk/opencharacters.js`. Not part of the API schema; see docs/js-client.md."""

from __future__ import annotations

import hashlib
from functools import cache

from fastapi import APIRouter, Request, Response

from opencharacters.domain.errors import NotFound
from opencharacters.portal import static_path

router = APIRouter(include_in_schema=False)

FILES = {
    "opencharacters.js": "text/javascript; charset=utf-8",
    "call.html": "text/html; charset=utf-8",
}


@cache
def _load(name: str) -> tuple[bytes, str]:
    data = static_path(name).read_bytes()
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
