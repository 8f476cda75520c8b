"""Several stateless API nodes (`serve --media-workers 0`) on one PostgreSQL, as real processes,
with a separately started media worker: a session created on node A is consumed, signalled and
cancelled on node B; one organization's concurrency limit, request rate and the failed-auth limit
hold across the nodes; a background job whose node is killed with SIGKILL mid-job is completed
once by the other node; killing a node under load leaves the other answering and no session
stuck.

The nodes share one data directory (the blob store, as a shared filesystem would) and one secret
key, as a deployment behind a load balancer does."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from opencharacters.client.call import Caller
from opencharacters.store.accounts import create_key
from opencharacters.store.db import Database
from tests.support.http import VERSION, api, error_of, wait_for
from tests.support.media import data_uri, face_data_uri
from tests.support.server import API_KEY, POSTGRES_ENV, MediaWorker, Server, postgres_database
from tests.worker.test_media_workers import peer_closed

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

NODE_ENV = {
    "OPENCHARACTERS_JOB_LEASE_S": "3",
    "OPENCHARACTERS_SECRET_KEY": "one-secret-shared-by-every-node-of-this-test",
}


@dataclass
class Cluster:
    url: str
    db: Database
    a: Server
    b: Server


def start_nodes(url: str, data_dir: Path, **env: str) -> tuple[Database, Server, Server]:
    """Two nodes started at once (the schema made first: two migrations would race)."""
    db = Database(url)
    db.migrate()
    nodes = [
        Server(data_dir, url, media_workers=0, log_name=f"node-{name}.log", **NODE_ENV, **env)
        for name in "ab"
    ]
    threads = [threading.Thread(target=node.start) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for node in nodes:
        assert node.process is not None, node.log()
    return db, nodes[0], nodes[1]


def needs_postgres() -> None:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"set {POSTGRES_ENV}: several API nodes need PostgreSQL")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    needs_postgres()
    with postgres_database() as url:
        db, a, b = start_nodes(url, tmp_path_factory.mktemp("nodes"))
        try:
            yield Cluster(url, db, a, b)
        finally:
            a.stop()
            b.stop()
            db.dispose()


@pytest.fixture(scope="module")
def worker(cluster: Cluster) -> Iterator[MediaWorker]:
    # Models loaded before it takes calls: a call still loading them ends only once they are.
    started = MediaWorker(cluster.a, slots=2, OPENCHARACTERS_PRELOAD_ENGINES="true").start()
    yield started
    started.stop()


def new_org_key(db: Database, org: str) -> str:
    with db.session() as s:
        key, _ = create_key(s, org, "test")
    return key


def ready_avatar_across(create_on: Server, read_on: Server, key: str = API_KEY) -> str:
    """An avatar created on one node, its processing (a leased job) seen READY on the other."""
    body = {
        "name": "Ada",
        "referenceImage": face_data_uri(),
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "personality": "You are Ada.",
        "startScript": "Hi, I'm Ada.",
    }
    with api(create_on, key) as http:
        created = http.post("/v1/avatars", json=body)
    assert created.status_code == 200, created.text
    avatar_id = str(created.json()["id"])
    with api(read_on, key) as http:
        avatar = wait_for(
            lambda: http.get(f"/v1/avatars/{avatar_id}").json(),
            lambda a: a["status"] != "PROCESSING",
            timeout=60,
        )
    assert avatar["status"] == "READY", avatar
    return avatar_id


@pytest.fixture(scope="module")
def avatar_id(cluster: Cluster) -> str:
    return ready_avatar_across(cluster.a, cluster.b)


class CrossNodeCaller(Caller):
    """Creates its session on one node; waits, consumes and signals on another."""

    def __init__(self, create_on: Server, call_on: Server, avatar_id: str) -> None:
        super().__init__(call_on.base_url, API_KEY, avatar_id)
        self.create_url = create_on.base_url

    async def _start(self) -> None:
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": self.avatar_id}}
        call_url, self.base_url = self.base_url, self.create_url
        try:
            created = await self._json(
                "POST", "/v1/realtime_sessions", json=body, headers=self._headers()
            )
        finally:
            self.base_url = call_url
        self.session_id = str(created["id"])
        key = await self._wait_ready()
        consumed = await self._json(
            "POST",
            f"/v1/realtime_sessions/{self.session_id}/consume",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        self.consumed_url = str(consumed["url"])
        await self._connect(self.consumed_url, str(consumed["token"]))


async def test_a_session_made_on_one_node_is_called_and_cancelled_through_another(
    cluster: Cluster, worker: MediaWorker, avatar_id: str
) -> None:
    call = CrossNodeCaller(cluster.a, cluster.b, avatar_id)
    await call.start()
    try:
        session_id = str(call.session_id)
        # The offer went to node B, which forwarded it to the worker holding the session.
        assert call.consumed_url.startswith(cluster.b.base_url)
        with api(cluster.a) as http_a:
            wait_for(
                lambda: http_a.get(f"/v1/realtime_sessions/{session_id}").json(),
                lambda s: s["status"] == "RUNNING",
                timeout=20,
            )
        async with httpx.AsyncClient(
            base_url=cluster.b.base_url,
            headers={"Authorization": f"Bearer {API_KEY}", **VERSION},
        ) as http_b:
            cancelled = await http_b.delete(f"/v1/realtime_sessions/{session_id}")
            assert cancelled.status_code == 204, cancelled.text
            # B told the worker: the caller sees the call end at once, not at a timeout.
            assert await peer_closed(call, 10) < 5
            session = (await http_b.get(f"/v1/realtime_sessions/{session_id}")).json()
        assert session["status"] == "CANCELLED"
        with api(cluster.a) as http_a:
            assert http_a.get(f"/v1/realtime_sessions/{session_id}").json()["status"] == (
                "CANCELLED"
            )
    finally:
        await call.hang_up()


def test_the_concurrency_limit_counts_the_sessions_of_every_node(cluster: Cluster) -> None:
    key = new_org_key(cluster.db, "concurrency-across-nodes")
    avatar = ready_avatar_across(cluster.b, cluster.a, key)
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar}}
    headers = {"Authorization": f"Bearer {key}", **VERSION}
    nodes = [cluster.a, cluster.b]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=30, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.post(
                            f"{nodes[i % 2].base_url}/v1/realtime_sessions",
                            json=body,
                            headers=headers,
                        )
                        for i in range(24)
                    )
                )
            )

    responses = asyncio.run(burst())
    created = [r.json()["id"] for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(created) == 10  # the default limit, once over both nodes
    assert len(refused) == 14
    assert "10 active sessions" in error_of(refused[0])
    for index, session_id in enumerate(created):
        with api(nodes[index % 2], key) as http:
            assert http.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204


def tone_wav(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    samples = (0.4 * envelope * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def lease_holders(db: Database, key: str) -> list[str]:
    with db.session() as s:
        rows = s.execute(text("SELECT holder FROM job_leases WHERE key = :key"), {"key": key})
        return [str(row[0]) for row in rows]


def test_a_job_on_a_killed_node_is_completed_once_by_the_other(
    cluster: Cluster, avatar_id: str
) -> None:
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        "speech": {"type": "audio", "audio": data_uri(tone_wav(8.0), "audio/wav")},
    }
    with api(cluster.a) as http_a:
        created = http_a.post("/v1/avatar_videos", json=body)
    assert created.status_code == 200, created.text
    task_id = str(created.json()["id"])
    with api(cluster.b) as http_b:
        wait_for(
            lambda: http_b.get(f"/v1/tasks/{task_id}").json(),
            lambda t: t["status"] == "RUNNING",
            timeout=30,
            interval=0.05,
        )
        assert cluster.a.process is not None
        assert lease_holders(cluster.db, task_id) == [f"{_host()}:{cluster.a.process.pid}"]
        cluster.a.kill()  # mid-render: no clean-up, its lease simply stops being renewed
        done = wait_for(
            lambda: http_b.get(f"/v1/tasks/{task_id}").json(),
            lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
            timeout=60,
        )
        assert done["status"] == "SUCCEEDED", done
        video = httpx.get(done["output"][0], timeout=30)
        assert video.status_code == 200 and len(video.content) > 10_000
        with cluster.db.session() as s:
            metered = s.execute(
                text("SELECT count(*) FROM usage_records WHERE subject_id = :id"), {"id": task_id}
            ).scalar()
    assert metered == 1
    assert lease_holders(cluster.db, task_id) == []  # released by its finisher
    assert "taken over" not in cluster.b.log()
    cluster.a.start()  # back for the next test


def _host() -> str:
    import socket

    return socket.gethostname()[:200]


@dataclass
class Outcome:
    node: str
    at: float
    status: int | None
    """None: no answer (connection refused or reset)."""


def test_killing_a_node_under_load_leaves_the_other_answering_and_no_session_stuck(
    cluster: Cluster, worker: MediaWorker, avatar_id: str
) -> None:
    nodes = {"a": cluster.a, "b": cluster.b}
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    outcomes: list[Outcome] = []
    created: list[str] = []
    stop = threading.Event()
    killed_at: list[float] = []

    def send(client: httpx.Client, node: str, method: str, path: str, **kw: Any) -> Any:
        try:
            response = client.request(method, nodes[node].base_url + path, **kw)
        except httpx.TransportError:
            outcomes.append(Outcome(node, time.monotonic(), None))
            return None
        outcomes.append(Outcome(node, time.monotonic(), response.status_code))
        return response

    def load(offset: int) -> None:
        headers = {"Authorization": f"Bearer {API_KEY}", **VERSION}
        with httpx.Client(headers=headers, timeout=15) as client:
            turn = offset
            while not stop.is_set():
                here, there = ("a", "b") if turn % 2 == 0 else ("b", "a")
                turn += 1
                made = send(client, here, "POST", "/v1/realtime_sessions", json=body)
                if made is None or made.status_code != 200:
                    continue
                session_id = str(made.json()["id"])
                created.append(session_id)
                send(client, there, "GET", f"/v1/realtime_sessions/{session_id}")
                send(client, here, "GET", "/v1/avatars")
                send(client, here, "DELETE", f"/v1/realtime_sessions/{session_id}")

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    cluster.a.kill()
    killed_at.append(time.monotonic())
    time.sleep(3.0)
    stop.set()
    for thread in threads:
        thread.join()

    on_b = [o for o in outcomes if o.node == "b"]
    after_kill = [o for o in on_b if o.at > killed_at[0]]
    assert len(after_kill) >= 10, f"too little load reached B: {len(after_kill)}"
    assert {o.status for o in on_b} <= {200, 204}, sorted({o.status or 0 for o in on_b})
    assert any(o.node == "a" and o.status is None for o in outcomes)  # A was really gone
    # No session stuck: each one created is readable on B and ends when B is asked to end it
    # (those whose DELETE died with A included).
    with api(cluster.b) as http_b:
        for session_id in created:
            status = http_b.get(f"/v1/realtime_sessions/{session_id}").json()["status"]
            if status not in ("CANCELLED", "COMPLETED", "FAILED"):
                assert http_b.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204
        for session_id in created:
            assert http_b.get(f"/v1/realtime_sessions/{session_id}").json()["status"] in (
                "CANCELLED",
                "COMPLETED",
                "FAILED",
            )
    cluster.a.start()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two nodes with a small request rate (60 a minute, bursts of 20) and failed-auth limit
    (10 a minute): limited in each process alone, 30 requests over the two would all pass."""
    needs_postgres()
    with postgres_database() as url:
        db, a, b = start_nodes(
            url,
            tmp_path_factory.mktemp("limited"),
            OPENCHARACTERS_RATE_LIMIT_PER_MINUTE="60",
            OPENCHARACTERS_RATE_LIMIT_BURST="20",
            OPENCHARACTERS_AUTH_FAILURES_PER_MINUTE="10",
        )
        try:
            yield a, b
        finally:
            a.stop()
            b.stop()
            db.dispose()


def test_an_organization_request_rate_is_one_bucket_over_the_nodes(
    limited: tuple[Server, Server],
) -> None:
    clients = [api(node) for node in limited]
    started = time.monotonic()
    try:
        responses = [clients[i % 2].get("/v1/avatars") for i in range(30)]
    finally:
        for client in clients:
            client.close()
    elapsed = time.monotonic() - started
    passed = [r for r in responses if r.status_code == 200]
    refused = [(i % 2, r) for i, r in enumerate(responses) if r.status_code == 429]
    # 20 from the burst, plus one a second refilled while the requests went.
    assert 20 <= len(passed) <= 20 + int(elapsed) + 1
    assert len(passed) + len(refused) == 30
    assert {node for node, _ in refused} == {0, 1}  # both nodes refuse, from one bucket
    assert "60 per minute" in error_of(refused[0][1])
    assert int(refused[0][1].headers["Retry-After"]) >= 1


def test_failed_authentications_are_counted_over_the_nodes(
    limited: tuple[Server, Server],
) -> None:
    answers = []
    for i in range(16):
        with api(limited[i % 2], key="oc_not_a_key_of_anyone_00000000") as http:
            answers.append((i % 2, http.get("/v1/avatars")))
    unauthorized = [r for _, r in answers if r.status_code == 401]
    blocked = [(node, r) for node, r in answers if r.status_code == 429]
    assert len(unauthorized) == 10  # the limit, once over both nodes
    assert {node for node, _ in blocked} == {0, 1}
    assert "invalid credentials" in error_of(blocked[0][1])
