"""Failed authentication is limited per client address: guessing API keys, session keys or media
tokens gets 429 with Retry-After once the address's allowance is spent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.http import VERSION, api, error_of
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

SOME_SESSION = "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"


def test_guessing_keys_is_slowed_per_address(make_server: Any) -> None:
    server: Server = make_server(OPENCHARACTERS_AUTH_FAILURES_PER_MINUTE="6")
    url = f"{server.base_url}/v1/avatars"
    for attempt in range(6):
        guess = httpx.get(url, headers={"Authorization": f"Bearer guess-{attempt}", **VERSION})
        assert guess.status_code == 401, (attempt, guess.text)
    blocked = httpx.get(url, headers={"Authorization": "Bearer guess-7", **VERSION})
    assert blocked.status_code == 429
    assert "invalid credentials from this address (limit 6 per minute)" in error_of(blocked)
    assert 1 <= int(blocked.headers["retry-after"]) <= 10
    # While blocked, even a right key from this address is refused: otherwise the guesser would
    # simply keep going and wait for the one answer that is not a 429.
    assert httpx.get(
        url, headers={"Authorization": f"Bearer {API_KEY}", **VERSION}
    ).status_code == (429)
    # A body is refused the same way, before it is read.
    with api(server) as http:
        assert http.post("/v1/documents", json={"name": "n", "content": "c"}).status_code == 429
    # Session keys share the allowance.
    consume = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{SOME_SESSION}/consume",
        headers={"Authorization": "Bearer guess"},
    )
    assert consume.status_code == 429


def test_missing_keys_do_not_count(make_server: Any) -> None:
    server: Server = make_server(OPENCHARACTERS_AUTH_FAILURES_PER_MINUTE="2")
    for _ in range(5):
        assert httpx.get(f"{server.base_url}/v1/avatars", headers=VERSION).status_code == 401
    with api(server) as http:
        assert http.get("/v1/avatars").status_code == 200
