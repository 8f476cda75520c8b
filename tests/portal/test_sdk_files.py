"""/sdk/...: the browser client and the demo call page, served to any origin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from opencharacters.portal import static_path
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
