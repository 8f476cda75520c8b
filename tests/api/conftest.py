from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from runwayml import RunwayML

from tests.support.server import API_KEY, Server, postgres_database


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server"), database_url).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> RunwayML:
    return RunwayML(base_url=server.base_url, api_key=API_KEY, max_retries=0)


@pytest.fixture(scope="module")
def make_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Server]]:
    """Servers with their own settings (env overrides), all on this module's database kind.
    Each gets a fresh database of the same kind."""
    started: list[Server] = []
    stack = contextlib.ExitStack()

    def start(**env: str) -> Server:
        url = database_url
        if database_url.startswith("postgresql"):
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/test.db"
        running = Server(tmp_path_factory.mktemp("server"), url, **env).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
    stack.close()
