"""Raw HTTP against a test server, for exact status codes and error bodies."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.server import API_KEY, Server

VERSION = {"X-Runway-Version": "2024-11-06"}


def api(server: Server, key: str = API_KEY) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {key}", **VERSION},
        timeout=30,
    )


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def wait_for(fetch: Any, predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(interval)


def avatar_body(**overrides: Any) -> dict[str, Any]:
    from tests.support.media import face_data_uri

    body: dict[str, Any] = {
        "name": "Ada",
        "referenceImage": face_data_uri(),
        "personality": "You are Ada, a friendly guide.",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }
    body.update(overrides)
    return body


def ready_avatar(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    created = client.post("/v1/avatars", json=avatar_body(**overrides))
    assert created.status_code == 200, created.text
    avatar_id = created.json()["id"]
    return dict(
        wait_for(
            lambda: client.get(f"/v1/avatars/{avatar_id}").json(),
            lambda a: a["status"] != "PROCESSING",
        )
    )
