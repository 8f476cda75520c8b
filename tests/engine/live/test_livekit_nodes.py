"""Two livekit-server nodes sharing one Redis (LiveKit's own multi-node routing) under one
`opencharacters serve` with the LiveKit transport: rooms spread over the nodes; SIGKILL of a
node ends the call whose room it carried FAILED (MEDIA_SERVER_LOST), and the call on the other
node goes on and completes.

Every participant signals through node A's URL, as through a load balancer; LiveKit relays
each room's signalling to the node that carries it (where its media flows), so killing node B
takes only B's rooms."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.engine.live.conftest import (
    LIVEKIT_CONNECT_TIMEOUT_S,
    consume,
    create_avatar,
    in_thread,
    ready_session,
    wait_status,
)
from tests.support.http import api as api_client
from tests.support.livekit import LiveKitCaller, LiveKitServer, binary
from tests.support.redis import redis_server
from tests.support.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[LiveKitServer]]]:
    binary()
    logs = tmp_path_factory.mktemp("livekit-nodes")
    keys = (f"APItest{secrets.token_hex(4)}", secrets.token_urlsafe(32))
    with redis_server(logs) as redis:
        started: list[LiveKitServer] = []
        try:
            for name in ("node-a", "node-b"):
                node = LiveKitServer(logs, redis=redis, keys=keys, name=name)
                started.append(node.start())
            yield redis, started
        finally:
            for node in started:
                node.stop()


@pytest.fixture(scope="module")
def server(
    nodes: tuple[str, list[LiveKitServer]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    _, (entry, _) = nodes
    server = Server(
        tmp_path_factory.mktemp("live-nodes"),
        None,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        OPENCHARACTERS_SESSION_CAPACITY="2",
        OPENCHARACTERS_RECORD_SESSIONS="false",
        OPENCHARACTERS_CONNECT_TIMEOUT_S=str(LIVEKIT_CONNECT_TIMEOUT_S),
        **entry.server_env(),
    ).start()
    yield server
    server.stop()


def node_id(node: LiveKitServer) -> str:
    found = re.search(r'"nodeID": "([^"]+)"', node.log())
    assert found, node.log()[-2000:]
    return found.group(1)


def room_nodes(redis: str) -> dict[str, str]:
    """LiveKit's own record of which node carries each room."""
    host, port = redis.split(":")
    out = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "--raw", "HGETALL", "room_node_map"],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.split()
    return dict(zip(out[::2], out[1::2], strict=True))


async def test_rooms_spread_over_two_nodes_and_a_dead_node_fails_only_its_calls(
    nodes: tuple[str, list[LiveKitServer]], server: Server
) -> None:
    redis, (node_a, node_b) = nodes
    ids = {node_id(node_a): node_a, node_id(node_b): node_b}
    with api_client(server) as api:
        avatar_id = create_avatar(api)
        callers: dict[str, LiveKitCaller] = {}
        try:
            for _ in range(2):
                session_id, key = await in_thread(ready_session, api, avatar_id)
                credentials = (await in_thread(consume, api, session_id, key)).json()
                caller = LiveKitCaller()
                callers[session_id] = caller
                await caller.join(credentials["url"], credentials["token"])
                await caller.wait_for_state("speaking", 60)
                # The next room goes to the node with fewer rooms once the nodes' stats (sent
                # every 2 s through Redis) count this one.
                await asyncio.sleep(2.5)
            placed = room_nodes(redis)
            where = {session_id: ids[placed[session_id]] for session_id in callers}
            assert set(map(id, where.values())) == {id(node_a), id(node_b)}, placed
            (doomed,) = [sid for sid, node in where.items() if node is node_b]
            (survivor,) = [sid for sid, node in where.items() if node is node_a]

            node_b.kill()
            killed = time.monotonic()
            failed = await in_thread(wait_status, api, doomed, {"FAILED", "COMPLETED"}, 40)
            lost_after = time.monotonic() - killed
            assert failed["status"] == "FAILED", failed
            assert failed["failureCode"] == "MEDIA_SERVER_LOST", failed
            assert "LiveKit media server" in failed["failure"]

            # The call on node A goes on: still running, the avatar's frames still arrive.
            frames = callers[survivor].frame_count
            await asyncio.sleep(2.0)
            assert callers[survivor].frame_count > frames + 10
            running = await in_thread(api.get, f"/v1/realtime_sessions/{survivor}")
            assert running.json()["status"] == "RUNNING"
            await callers[survivor].end_call()
            done = await in_thread(wait_status, api, survivor, {"COMPLETED", "FAILED"}, 20)
            assert done["status"] == "COMPLETED", done
            print(f"dead node's call FAILED {lost_after:.1f} s after the kill")
        finally:
            for caller in callers.values():
                await caller.leave()
