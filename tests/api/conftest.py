from __future__ import annotations

from collections.abc import Iterator

import pytest
from runwayml import RunwayML

from tests.support.server import API_KEY, Server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server"), database_url).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> RunwayML:
    return RunwayML(base_url=server.base_url, api_key=API_KEY, max_retries=0)
