"""/portal: the developer portal, a static single-page app (plain HTML, CSS and ES modules from
the package, no build step). It talks to the public API with the API key the user pastes; the
server gives it nothing private. Not part of the API schema; see docs/portal.md."""

from __future__ import annotations

import hashlib
import re
from functools import cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from opencharacters.domain.errors import NotFound
from opencharacters.portal import static_path

router = APIRouter(include_in_schema=False)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(html|js|css|svg)$")
# The page may load only from this server (and show media and images from anywhere: signed
# URLs carry the server's public address, which may be another name for the same server).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; "
    "media-src * data: blob:; connect-src *; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)


@cache
def _load(name: str) -> tuple[bytes, str] | None:
    file = static_path("portal").joinpath(name)
    if not file.is_file():
        return None
    data = file.read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _serve(name: str, request: Request) -> Response:
    loaded = _load(name) if NAME.match(name) else None
    if loaded is None:
        raise NotFound(f"No such portal file: {name[:80]!r}.")
    data, etag = loaded
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else data
    media_type = CONTENT_TYPES["." + name.rsplit(".", 1)[1]]
    response = Response(content=body, media_type=media_type, headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(data))
    return response


@router.api_route("/portal", methods=["GET", "HEAD"])
def portal_root() -> Response:
    return RedirectResponse("/portal/", status_code=308)


@router.api_route("/portal/", methods=["GET", "HEAD"])
def portal_index(request: Request) -> Response:
    return _serve("index.html", request)


@router.api_route("/portal/{name}", methods=["GET", "HEAD"])
def portal_file(name: str, request: Request) -> Response:
    return _serve(name, request)
