"""API keys, the version header, rate limits, and organizations that never see each other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from tests.support.http import VERSION, api, error_of, ready_avatar, wait_for
from tests.support.server import Server

pytestmark = pytest.mark.integration

MISSING = "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opencharacters", *args],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def new_key(server: Server, org: str) -> str:
    result = cli(server, "keys", "create", "--org", org)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("headers", "status", "mentions"),
    [
        ({}, 401, "Missing API key"),
        ({"Authorization": "Bearer wrong", **VERSION}, 401, "Invalid API key"),
        ({"Authorization": "Basic abc", **VERSION}, 401, "Missing API key"),
    ],
)
def test_authentication_errors(server: Server, headers: dict, status: int, mentions: str) -> None:
    response = httpx.get(f"{server.base_url}/v1/avatars", headers=headers)
    assert response.status_code == status
    assert mentions in error_of(response)


def test_version_header_is_required(server: Server) -> None:
    with api(server) as http:
        del http.headers["X-Runway-Version"]
        missing = http.get("/v1/avatars")
        assert missing.status_code == 400
        assert "X-Runway-Version" in error_of(missing)
        wrong = http.get("/v1/avatars", headers={"X-Runway-Version": "2023-01-01"})
        assert wrong.status_code == 400
        assert "2024-11-06" in error_of(wrong)


def test_keys_cli_works_while_the_server_runs(server: Server) -> None:
    key = new_key(server, "acme")
    assert key.startswith("oc_")
    client = RunwayML(base_url=server.base_url, api_key=key, max_retries=0)
    assert list(client.avatars.list(limit=10)) == []
    listing = cli(server, "keys", "list", "--org", "acme").stdout
    assert key not in listing  # only prefixes are ever shown
    key_id = listing.strip().splitlines()[-1].split()[0]
    cli(server, "keys", "revoke", key_id)
    with pytest.raises(runwayml.AuthenticationError):
        client.avatars.list(limit=10)
    assert "revoked" in cli(server, "keys", "list", "--org", "acme").stdout


def test_the_database_keeps_only_hashes(server: Server) -> None:
    key = new_key(server, "hashes")
    if server.database_url and server.database_url.startswith("sqlite"):
        raw = Path(server.database_url.removeprefix("sqlite:///")).read_bytes()
        assert key.encode() not in raw


def test_other_organizations_see_nothing(server: Server) -> None:
    outsider_key = new_key(server, "outsider")
    with api(server) as owner:
        document = owner.post("/v1/documents", json={"name": "secret", "content": "s"}).json()
        avatar = ready_avatar(owner, documentIds=[document["id"]])
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}}
        session_id = owner.post("/v1/realtime_sessions", json=body).json()["id"]
        wait_for(
            lambda: owner.get(f"/v1/realtime_sessions/{session_id}").json(),
            lambda s: s["status"] == "READY",
        )
        upload = owner.post("/v1/uploads", json={"filename": "face.jpg"}).json()

    with api(server, outsider_key) as outsider:
        for method, path, payload in [
            ("GET", f"/v1/avatars/{avatar['id']}", None),
            ("PATCH", f"/v1/avatars/{avatar['id']}", {"name": "mine now"}),
            ("DELETE", f"/v1/avatars/{avatar['id']}", None),
            ("GET", f"/v1/documents/{document['id']}", None),
            ("PATCH", f"/v1/documents/{document['id']}", {"name": "x"}),
            ("DELETE", f"/v1/documents/{document['id']}", None),
            ("GET", f"/v1/realtime_sessions/{session_id}", None),
            ("DELETE", f"/v1/realtime_sessions/{session_id}", None),
            ("GET", f"/v1/avatar_conversations/{session_id}", None),
            ("DELETE", f"/v1/avatar_conversations/{session_id}", None),
            ("GET", f"/v1/avatars/{avatar['id']}/conversations", None),
            ("GET", f"/v1/avatars/{avatar['id']}/conversations/{session_id}", None),
        ]:
            response = outsider.request(method, path, json=payload)
            assert response.status_code == 404, (method, path, response.text)
            # Same answer as for an id that exists nowhere: nothing leaks.
            assert error_of(response).replace(avatar["id"], "X").replace(
                document["id"], "X"
            ).replace(session_id, "X") == error_of(
                outsider.request(
                    method,
                    path.replace(avatar["id"], MISSING)
                    .replace(document["id"], MISSING)
                    .replace(session_id, MISSING),
                    json=payload,
                )
            ).replace(MISSING, "X")
        for path in ("/v1/avatars", "/v1/documents", "/v1/avatar_conversations"):
            assert outsider.get(path).json()["data"] == []
        refs = [
            (
                "/v1/avatars",
                {
                    "name": "x",
                    "referenceImage": upload["runwayUri"],
                    "personality": "p",
                    "voice": {"type": "runway-live-preset", "presetId": "max"},
                },
                "no upload",
            ),
            (
                "/v1/avatars",
                {
                    "name": "x",
                    "referenceImage": "https://example.com/a.png",
                    "personality": "p",
                    "voice": {"type": "runway-live-preset", "presetId": "max"},
                    "documentIds": [document["id"]],
                },
                "documentIds[0]",
            ),
            ("/v1/realtime_sessions", body, "avatar.avatarId"),
        ]
        for path, payload, mentions in refs:
            response = outsider.post(path, json=payload)
            assert response.status_code == 400
            assert mentions in error_of(response)
        usage = outsider.get(
            "/v1/avatar_usage", params={"startDate": "2026-01-01", "endDate": "2026-03-01"}
        ).json()
        assert usage["totalSessions"] == 0

    with api(server) as owner:
        assert owner.get(f"/v1/avatars/{avatar['id']}").json()["name"] == avatar["name"]
        assert owner.get(f"/v1/realtime_sessions/{session_id}").json()["status"] == "READY"


def test_rate_limit_answers_429_with_retry_after(make_server: Any) -> None:
    limited = make_server(
        OPENCHARACTERS_RATE_LIMIT_PER_MINUTE="60", OPENCHARACTERS_RATE_LIMIT_BURST="3"
    )
    with api(limited) as http:
        statuses = [http.get("/v1/avatars").status_code for _ in range(4)]
        assert statuses[:3] == [200, 200, 200]
        refused = http.get("/v1/avatars")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert "per minute" in error_of(refused)
    other = new_key(limited, "other-org")
    with api(limited, other) as http:
        assert http.get("/v1/avatars").status_code == 200  # buckets are per organization
    # The SDK honours Retry-After and succeeds on its retry.
    from tests.support.server import API_KEY

    patient = RunwayML(base_url=limited.base_url, api_key=API_KEY, max_retries=2)
    assert list(patient.avatars.list(limit=5)) == []
