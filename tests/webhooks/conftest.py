"""Real servers (on SQLite and PostgreSQL) delivering to a receiver on localhost."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.server import Server, postgres_database
from tests.support.webhook_receiver import Receiver, webhook_receiver

FAST_DELIVERY = {
    "OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE": "true",
    "OPENCHARACTERS_WEBHOOK_POLL_S": "0.2",
    "OPENCHARACTERS_WEBHOOK_RETRY_BASE_S": "0.5",
    "OPENCHARACTERS_WEBHOOK_TIMEOUT_S": "3",
}


@pytest.fixture
def fresh_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new empty database of this module's kind, for one test."""
    if database_url.startswith("postgresql"):
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/test.db"


@pytest.fixture
def make_server(
    fresh_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Server]]:
    """Servers sharing this test's database, each with its own data folder and settings."""
    started: list[Server] = []

    def start(media_workers: int | None = None, **env: str) -> Server:
        running = Server(
            tmp_path_factory.mktemp("server"),
            fresh_database,
            media_workers=media_workers,
            **{**FAST_DELIVERY, **env},
        ).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def register(http: httpx.Client, receiver: Receiver, **fields: object) -> dict[str, object]:
    """Registers the receiver and gives it the endpoint's secret."""
    response = http.post("/v1/webhooks", json={"url": receiver.url, **fields})
    assert response.status_code == 200, response.text
    endpoint = dict(response.json())
    receiver.secret = str(endpoint["secret"])
    return endpoint
