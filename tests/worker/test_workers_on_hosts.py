"""Media workers on other hosts: two workers, each in a network namespace of its own (a host
with its own address on a bridge), the API and the callers on the host side.

Each worker advertises its host's address: the API reaches its internal endpoint there, and
callers' media goes there (the caller's selected ICE pair ends at that address, nowhere else);
capacity is the sum of the workers' slots; calls go to the least loaded worker."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opencharacters.client.call import Caller
from tests.engine.live.conftest import create_avatar
from tests.support.http import api as api_client
from tests.support.netns import Host, NamespacesRefused, hosts
from tests.support.server import API_KEY, MediaWorker, Server
from tests.worker.test_media_workers import holder

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def network() -> Iterator[tuple[str, list[Host]]]:
    try:
        with hosts(2) as made:
            yield made
    except NamespacesRefused as refused:
        pytest.skip(f"network namespaces are not permitted here: {refused}")


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("hosts"),
        None,
        media_workers=0,
        OPENCHARACTERS_PRELOAD_ENGINES="false",
        OPENCHARACTERS_RECORD_SESSIONS="false",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workers(
    api_server: Server, network: tuple[str, list[Host]]
) -> Iterator[dict[str, tuple[Host, MediaWorker]]]:
    _, machines = network
    started: dict[str, tuple[Host, MediaWorker]] = {}
    try:
        for index, host in enumerate(machines):
            worker = MediaWorker(
                api_server,
                slots=2,
                name=f"host-{index}",
                prefix=host.prefix,
                args=["--host", host.address, "--advertise-address", host.address],
            )
            worker.start()
            assert worker.worker_id is not None
            started[worker.worker_id] = (host, worker)
        yield started
    finally:
        for _, worker in started.values():  # before their namespaces go
            worker.stop()


def selected_remote(call: Caller) -> tuple[str, int]:
    """The address the caller's media is sent to: its nominated ICE pair's remote end."""
    assert call.peer is not None
    transceiver = call.peer.getTransceivers()[0]
    ice: Any = transceiver.receiver.transport.transport
    pair = ice._connection._nominated[1]  # aioice keeps the nominated pair per component
    return pair.remote_candidate.host, pair.remote_candidate.port


async def test_calls_reach_workers_on_their_own_hosts_least_loaded_first(
    api_server: Server,
    workers: dict[str, tuple[Host, MediaWorker]],
    network: tuple[str, list[Host]],
) -> None:
    gateway, _ = network
    with api_client(api_server) as api:
        metrics = api.get("/metrics").text
        assert re.search(r"^opencharacters_worker_slots_total 4(\.0)?$", metrics, re.M), metrics
        avatar_id = create_avatar(api)
        for worker_id, (host, _) in workers.items():
            assert address_of(api_server, worker_id).startswith(f"http://{host.address}:")

    calls: list[Caller] = []
    try:
        placed: dict[str, int] = dict.fromkeys(workers, 0)
        for _ in range(2):
            call = Caller(api_server.base_url, API_KEY, avatar_id)
            calls.append(call)
            await call.start()  # connected: media flows
            worker_id = holder(api_server, str(call.session_id))
            assert worker_id in workers
            placed[worker_id] += 1
            host, _ = workers[worker_id]
            remote, _port = selected_remote(call)
            assert remote == host.address, (remote, host.address, gateway)
        # The second call went to the idle worker, though the first had a free slot.
        assert sorted(placed.values()) == [1, 1], placed
    finally:
        await asyncio.gather(*(call.hang_up() for call in calls))


def address_of(server: Server, worker_id: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{Path(server.data_dir) / 'opencharacters.db'}")
    try:
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT address FROM media_workers WHERE id = :id"), {"id": worker_id}
            ).scalar()
            return str(value)
    finally:
        engine.dispose()


def test_a_worker_refuses_an_advertise_address_that_is_not_an_ip(api_server: Server) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "opencharacters", "worker", "--advertise-address", "media.example"],
        env=api_server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "media_advertise_address must be an IP address" in result.stderr, result.stderr
