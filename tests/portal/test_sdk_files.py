"""/sdk/...: the browser client and the demo call page, served to any origin."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencharacters.api.routers import sdk
from opencharacters.domain.errors import NotFound
from opencharacters.portal import LIVEKIT_CLIENT, static_path, vendor_path
from tests.support.server import Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("sdk"), None).start()
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("opencharacters.js", "text/javascript"), ("call.html", "text/html")],
)
def test_served_with_type_cors_and_revalidation(
    server: Server, name: str, content_type: str
) -> None:
    url = f"{server.base_url}/sdk/{name}"
    response = httpx.get(url, headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{content_type}; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == static_path(name).read_bytes()
    etag = response.headers["etag"]
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(response.content))


def test_other_names_are_not_found_and_the_schema_leaves_sdk_out(server: Server) -> None:
    missing = httpx.get(f"{server.base_url}/sdk/nope.js")
    assert missing.status_code == 404
    assert "opencharacters.js" in missing.json()["error"]
    for path in ("/sdk/..%2Fsdk.py", "/sdk/__init__.py", "/sdk/../api/app.py"):
        assert httpx.get(server.base_url + path).status_code == 404
    schema = httpx.get(f"{server.base_url}/openapi.json").json()
    assert not [path for path in schema["paths"] if path.startswith("/sdk")]


def test_livekit_client_is_served_when_installed(server: Server) -> None:
    """LiveKit's browser client, installed from npm by `make setup`, for LiveKit calls."""
    installed = vendor_path(*LIVEKIT_CLIENT)
    if not installed.is_file():
        message = "livekit-client is not installed (scripts/setup-web.sh, run by `make setup`)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    response = httpx.get(f"{server.base_url}/sdk/livekit-client.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.content == installed.read_bytes()
    exports = re.search(rb"export ?\{([^}]*)\}", response.content[-20_000:])
    assert exports, "an ES module (the client imports it)"
    assert {b"Room", b"RoomEvent", b"Track"} <= set(exports[1].split(b",")), exports[1][:300]


def test_a_missing_livekit_client_is_a_404_that_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sdk, "vendor_path", lambda *parts: tmp_path.joinpath(*parts))
    sdk._load.cache_clear()
    try:
        with pytest.raises(NotFound, match=r"not installed on this server: run `make setup`"):
            sdk._load("livekit-client.js")
    finally:
        sdk._load.cache_clear()
