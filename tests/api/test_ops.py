"""/healthz, /readyz and /metrics of a real server process."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.http import api, error_of
from tests.support.server import POSTGRES_ENV, Server, postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server"), None).start()
    yield running
    running.stop()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text, labels in any order."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if found == labels:
            return float(match.group(2))
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


def test_healthz_and_readyz_need_no_key(server: Server) -> None:
    health = httpx.get(f"{server.base_url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_metrics_count_requests_sessions_and_slots(server: Server) -> None:
    with api(server) as client:
        assert client.get("/v1/avatars").status_code == 200
        assert client.get("/v1/avatars/not-an-id").status_code in (400, 404)
    assert httpx.get(f"{server.base_url}/v1/avatars").status_code == 401
    scraped = httpx.get(f"{server.base_url}/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text

    requests = "opencharacters_http_requests_total"
    assert sample(text, requests, method="GET", route="/v1/avatars", status="200") >= 1
    assert sample(text, requests, method="GET", route="/v1/avatars", status="401") >= 1
    assert (
        sample(
            text,
            "opencharacters_http_request_duration_seconds_count",
            method="GET",
            route="/v1/avatars",
        )
        >= 2
    )
    for status in ("NOT_READY", "READY", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"):
        assert sample(text, "opencharacters_sessions", status=status) == 0
    assert sample(text, "opencharacters_session_queue_length") == 0
    # The test server's one supervised worker, with OPENCHARACTERS_SESSION_CAPACITY slots.
    assert sample(text, "opencharacters_media_workers") == 1
    assert sample(text, "opencharacters_worker_slots_total") == 50
    assert sample(text, "opencharacters_worker_slots_free") == 50


def test_ops_endpoints_stay_out_of_the_api_schema(server: Server) -> None:
    paths = set(httpx.get(f"{server.base_url}/openapi.json").json()["paths"])
    assert not {"/healthz", "/readyz", "/metrics"} & paths


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV}")
def test_readyz_answers_503_while_the_database_refuses_connections(tmp_path: Path) -> None:
    with postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        server = Server(tmp_path / "server", url, media_workers=0).start()
        admin = psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True)
        try:
            assert httpx.get(f"{server.base_url}/readyz").status_code == 200
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            down = httpx.get(f"{server.base_url}/readyz", timeout=30)
            assert down.status_code == 503
            message = error_of(down)
            assert message.startswith("Not ready: database unreachable"), message
            assert "blob store" not in message
            assert httpx.get(f"{server.base_url}/healthz").status_code == 200

            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert httpx.get(f"{server.base_url}/readyz").status_code == 200
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.close()
            server.stop()
