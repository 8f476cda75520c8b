"""Limits and single-use steps under bursts of concurrent requests, through a real server on
SQLite and on PostgreSQL: the organization's session limit, an upload's one file, a session
key's one consume. (Found by a probe: 200 creations left 15 active with a limit of 10; 8
completions of one upload answered 204 six times.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.support.http import VERSION, api, error_of, ready_avatar, wait_for
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSION_LIMIT = 10
CREATIONS = 200
UPLOAD_SENDERS = 8
CONSUMERS = 16


@pytest.fixture(scope="module")
def limited(make_server: Any) -> Server:
    server: Server = make_server(
        OPENCHARACTERS_MAX_CONCURRENT_SESSIONS_PER_ORG=str(SESSION_LIMIT),
        OPENCHARACTERS_SESSION_CAPACITY="50",
    )
    return server


async def burst(count: int, send: Any) -> list[httpx.Response]:
    """`count` requests in flight at once, each on its own connection."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return list(await asyncio.gather(*(send(client, i) for i in range(count))))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def test_concurrent_creations_stop_exactly_at_the_organization_limit(limited: Server) -> None:
    with api(limited) as http:
        avatar_id = ready_avatar(http)["id"]
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    headers = {"Authorization": f"Bearer {API_KEY}", **VERSION}

    async def create(client: httpx.AsyncClient, _: int) -> httpx.Response:
        url = f"{limited.base_url}/v1/realtime_sessions"
        return await client.post(url, json=body, headers=headers)

    responses = asyncio.run(burst(CREATIONS, create))
    assert statuses(responses) == {200: SESSION_LIMIT, 429: CREATIONS - SESSION_LIMIT}
    refused = next(r for r in responses if r.status_code == 429)
    assert f"{SESSION_LIMIT} active sessions" in error_of(refused)
    created = [r.json()["id"] for r in responses if r.status_code == 200]
    with api(limited) as http:
        for session_id in created:
            session = http.get(f"/v1/realtime_sessions/{session_id}").json()
            assert session["status"] in ("NOT_READY", "READY")
        assert http.post("/v1/realtime_sessions", json=body).status_code == 429
        for session_id in created:
            assert http.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204
        assert http.post("/v1/realtime_sessions", json=body).status_code == 200


def test_an_upload_completed_concurrently_is_received_once(limited: Server) -> None:
    with api(limited) as http:
        started = http.post("/v1/uploads", json={"filename": "a.bin"}).json()
    url, fields = started["uploadUrl"], started["fields"]

    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(url, data=fields, files={"file": ("a.bin", bytes([i]) * 1000)})

    responses = asyncio.run(burst(UPLOAD_SENDERS, send))
    assert statuses(responses) == {204: 1, 403: UPLOAD_SENDERS - 1}
    for response in responses:
        if response.status_code == 403:
            assert "already received its file" in error_of(response)
    # The stored file is the one sender's whose request succeeded, whole.
    winner = next(i for i, r in enumerate(responses) if r.status_code == 204)
    (stored,) = limited.data_dir.glob("blobs/uploads/*/*/a.bin")
    assert stored.read_bytes() == bytes([winner]) * 1000


def test_a_session_key_consumed_concurrently_works_once(limited: Server) -> None:
    with api(limited) as http:
        avatar_id = ready_avatar(http)["id"]
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
        created = http.post("/v1/realtime_sessions", json=body)
        assert created.status_code == 200, created.text
        session_id = created.json()["id"]
        ready = wait_for(
            lambda: http.get(f"/v1/realtime_sessions/{session_id}").json(),
            lambda s: s["status"] == "READY",
        )
    consume_url = f"{limited.base_url}/v1/realtime_sessions/{session_id}/consume"

    async def consume(client: httpx.AsyncClient, _: int) -> httpx.Response:
        key = {"Authorization": f"Bearer {ready['sessionKey']}"}
        return await client.post(consume_url, headers=key)

    responses = asyncio.run(burst(CONSUMERS, consume))
    assert statuses(responses) == {200: 1, 409: CONSUMERS - 1}
    tokens = {r.json()["token"] for r in responses if r.status_code == 200}
    assert len(tokens) == 1
    with api(limited) as http:
        http.delete(f"/v1/realtime_sessions/{session_id}")
