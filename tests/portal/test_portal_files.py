"""/portal serves the developer portal's static files, with the right types and headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from opencharacters.api.app import create_app
from opencharacters.portal import static_path
from opencharacters.settings import Settings

pytestmark = pytest.mark.integration

MODULES = [
    "app.js", "api.js", "ui.js", "characters.js", "tools.js", "call.js",
    "conversations.js", "voices.js", "documents.js", "usage.js", "keys.js", "leave.js",
    "webhooks.js",
]  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("portal"), preload_engines=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_portal_page_and_its_modules(client: TestClient) -> None:
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/portal/app.js">' in page.text
    for name in MODULES:
        response = client.get(f"/portal/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/portal/portal.css").headers["content-type"] == "text/css; charset=utf-8"
    assert client.get("/portal/icon.svg").headers["content-type"] == "image/svg+xml"
    # Every module the page imports is one the router serves.
    shipped = {p.name for p in static_path("portal").iterdir() if p.name.endswith(".js")}
    assert shipped == set(MODULES)


def test_caching_and_unknown_files(client: TestClient) -> None:
    first = client.get("/portal/app.js")
    again = client.get("/portal/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    head = client.head("/portal/app.js")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(first.content))
    for name in ("missing.js", "..%2Fopencharacters.js", "app.py", ".hidden.js"):
        response = client.get(f"/portal/{name}")
        assert response.status_code == 404, name
        assert "error" in response.json()


def test_the_portal_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/portal") or path == "/"]
    assert "/v1/organization/api_keys" in paths
