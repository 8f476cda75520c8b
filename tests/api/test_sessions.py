"""Realtime sessions: the scheduler, consume, cancel, expiry, limits, restarts."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.media import data_uri
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def avatar_id(server: Server) -> str:
    with api(server) as http:
        avatar = ready_avatar(http)
    assert avatar["status"] == "READY"
    return str(avatar["id"])


def session_body(avatar_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
    }
    body.update(overrides)
    return body


def status_of(http: httpx.Client, session_id: str) -> dict[str, Any]:
    return dict(http.get(f"/v1/realtime_sessions/{session_id}").json())


def consume(server: Server, session_id: str, key: str, **headers: str) -> httpx.Response:
    # Exactly what Runway's browser SDK sends: no X-Runway-Version, no body.
    return httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
    )


def test_sdk_flow_create_ready_consume_once(
    client: RunwayML, server: Server, avatar_id: str
) -> None:
    created = client.realtime_sessions.create(
        model="gwm1_avatars",
        avatar={"type": "custom", "avatar_id": avatar_id},
        personality="You are terse.",
        start_script="Hi.",
        max_duration=60,
        tools=[{"type": "client_event", "name": "show_product", "description": "Show a product"}],
    )
    ready = wait_for(
        lambda: client.realtime_sessions.retrieve(created.id),
        lambda s: s.status != "NOT_READY",
        timeout=5,
    )
    assert ready.status == "READY"
    assert ready.session_key and ready.expires_at > ready.created_at

    credentials = consume(server, created.id, ready.session_key, Origin="https://app.example")
    assert credentials.status_code == 200, credentials.text
    assert credentials.headers["access-control-allow-origin"] == "*"
    body = credentials.json()
    assert set(body) == {"url", "token", "roomName"}
    assert body["roomName"] == created.id
    assert body["url"] == f"{server.base_url}/v1/realtime_sessions/{created.id}/whip"

    again = consume(server, created.id, ready.session_key)
    assert again.status_code == 409
    assert "already consumed" in error_of(again)

    conversation = client.avatar_conversations.retrieve(created.id)
    assert conversation.status == "in_progress"
    assert conversation.max_duration == 60
    assert [(t.type, t.name) for t in conversation.tools] == [("client_event", "show_product")]
    assert conversation.avatar.id == avatar_id


def test_consume_refuses_wrong_keys_and_unknown_sessions(server: Server, avatar_id: str) -> None:
    with api(server) as http:
        session_id = http.post("/v1/realtime_sessions", json=session_body(avatar_id)).json()["id"]
        wait_for(lambda: status_of(http, session_id), lambda s: s["status"] == "READY")
    wrong = consume(server, session_id, "not-the-key")
    assert wrong.status_code == 401 and "Invalid session key" in error_of(wrong)
    assert (
        consume(server, session_id, API_KEY).status_code == 401
    )  # an API key is not a session key
    missing = consume(server, "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f", "x")
    assert missing.status_code == 404
    no_auth = httpx.post(f"{server.base_url}/v1/realtime_sessions/{session_id}/consume")
    assert no_auth.status_code == 401
    assert error_of(no_auth).startswith("Missing session key: send 'Authorization: Bearer")


def test_consume_checks_the_key_before_telling_the_status(server: Server, avatar_id: str) -> None:
    """A guessed key learns nothing: 401 whatever became of the session; the right key is told
    why it cannot be used."""
    with api(server) as http:
        session_id = http.post("/v1/realtime_sessions", json=session_body(avatar_id)).json()["id"]
        ready = wait_for(lambda: status_of(http, session_id), lambda s: s["status"] == "READY")
        assert http.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204
    for guess in ("guess-1", "guess-2", ready["sessionKey"][:-1]):
        wrong = consume(server, session_id, guess)
        assert wrong.status_code == 401, wrong.text
        assert "CANCELLED" not in wrong.text and "Invalid session key" in error_of(wrong)
    right = consume(server, session_id, ready["sessionKey"])
    assert right.status_code == 409 and "CANCELLED" in error_of(right)


def test_consume_answers_cors_preflight_but_api_key_paths_do_not(server: Server) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    answer = httpx.options(
        f"{server.base_url}/v1/realtime_sessions/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f/consume",
        headers=preflight,
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in answer.headers["access-control-allow-headers"]
    private = httpx.options(f"{server.base_url}/v1/avatars", headers=preflight)
    assert "access-control-allow-origin" not in private.headers


def test_delete_cancels_ready_and_is_idempotent(
    client: RunwayML, server: Server, avatar_id: str
) -> None:
    with api(server) as http:
        session_id = http.post("/v1/realtime_sessions", json=session_body(avatar_id)).json()["id"]
        ready = wait_for(lambda: status_of(http, session_id), lambda s: s["status"] == "READY")
        client.realtime_sessions.delete(session_id)
        assert status_of(http, session_id) == {
            "id": session_id,
            "createdAt": ready["createdAt"],
            "status": "CANCELLED",
        }
        client.realtime_sessions.delete(session_id)  # already over: still 204
        assert consume(server, session_id, ready["sessionKey"]).status_code == 409
    conversation = client.avatar_conversations.retrieve(session_id)
    assert conversation.status == "ended"
    assert conversation.ended_at is not None


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"maxDuration": 9}, "maxDuration: must be at least 10"),
        ({"maxDuration": 1801}, "maxDuration: must be at most 1800"),
        ({"personality": "p" * 10_001}, "personality: must be at most 10000"),
        ({"startScript": "s" * 2001}, "startScript: must be at most 2000"),
        ({"model": "gen4_turbo"}, "model"),
        ({"avatar": {"type": "runway-preset", "presetId": "dog-character"}}, "avatar.presetId"),
        (
            {"livekit": {"url": "wss://lk.example", "token": "t", "roomName": "r" * 257}},
            "livekit.roomName: must be at most 256",
        ),
        (
            {"integration": {"type": "livekit", "url": "wss://lk.example", "roomName": "r"}},
            "integration.livekit.token",
        ),
        (
            {"integration": {"type": "livekit", "url": "wss://lk.example", "token": "t" * 2049}},
            "integration.livekit.token: must be at most 2048",
        ),
        (
            {"integration": {"type": "elevenlabs", "signedUrl": "https://x"}},
            "integration.type: 'elevenlabs' is not supported",
        ),
        (
            {"avatar": {"type": "custom", "avatarId": "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"}},
            "avatar.avatarId",
        ),
        (
            {
                "tools": [
                    {"type": "client_event", "name": f"t{i}", "description": "d"} for i in range(21)
                ]
            },
            "tools: may have at most 20 items",
        ),
        (
            {
                "tools": [
                    {"type": "backend_rpc", "name": "slow", "description": "d", "timeoutSeconds": 9}
                ]
            },
            "timeoutSeconds: must be at most 8",
        ),
        (
            {"tools": [{"type": "client_event", "name": "bad name", "description": "d"}]},
            "tools[0].name",
        ),
        ({"surprise": True}, 'Unrecognized key: "surprise"'),
    ],
)
def test_create_validation(server: Server, avatar_id: str, overrides: dict, mentions: str) -> None:
    with api(server) as http:
        response = http.post("/v1/realtime_sessions", json=session_body(avatar_id, **overrides))
        assert response.status_code == 400, response.text
        assert mentions in error_of(response)


def test_edges_are_accepted(server: Server, avatar_id: str) -> None:
    with api(server) as http:
        for overrides in (
            {"maxDuration": 10},
            {"maxDuration": 1800, "personality": "p" * 10_000, "startScript": "s" * 2000},
            {
                "tools": [
                    {
                        "type": "backend_rpc",
                        "name": f"t{i}",
                        "description": "d",
                        "timeoutSeconds": 8,
                    }
                    for i in range(20)
                ]
            },
        ):
            response = http.post("/v1/realtime_sessions", json=session_body(avatar_id, **overrides))
            assert response.status_code == 200, response.text
            http.delete(f"/v1/realtime_sessions/{response.json()['id']}")


def test_a_whole_number_float_max_duration_from_the_python_sdk(
    client: RunwayML, avatar_id: str
) -> None:
    created = client.realtime_sessions.create(
        model="gwm1_avatars",
        avatar={"type": "custom", "avatar_id": avatar_id},
        max_duration=60.0,  # type: ignore[arg-type]  # what untyped Python code passes
    )
    assert client.avatar_conversations.retrieve(created.id).max_duration == 60
    client.realtime_sessions.delete(created.id)
    with pytest.raises(runwayml.BadRequestError, match="maxDuration"):
        client.realtime_sessions.create(
            model="gwm1_avatars",
            avatar={"type": "custom", "avatar_id": avatar_id},
            max_duration=60.5,  # type: ignore[arg-type]
        )


def test_sessions_need_a_ready_avatar(server: Server) -> None:
    with api(server) as http:
        broken = ready_avatar(http, referenceImage=data_uri(b"nope", "image/png"))
        assert broken["status"] == "FAILED"
        response = http.post("/v1/realtime_sessions", json=session_body(broken["id"]))
        assert response.status_code == 400
        assert "is FAILED" in error_of(response)


def test_unknown_and_malformed_session_ids(server: Server) -> None:
    with api(server) as http:
        assert (
            http.get("/v1/realtime_sessions/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f").status_code
            == 404
        )
        assert (
            http.delete("/v1/realtime_sessions/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f").status_code
            == 404
        )
        assert http.get("/v1/realtime_sessions/nope").status_code == 400


def test_deleting_the_avatar_cancels_its_sessions_and_keeps_conversations(
    client: RunwayML, server: Server
) -> None:
    with api(server) as http:
        avatar = ready_avatar(http, name="Short-lived")
        session_id = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()[
            "id"
        ]
        wait_for(lambda: status_of(http, session_id), lambda s: s["status"] == "READY")
        assert http.delete(f"/v1/avatars/{avatar['id']}").status_code == 204
        assert status_of(http, session_id)["status"] == "CANCELLED"
    conversation = client.avatar_conversations.retrieve(session_id)
    assert conversation.avatar.id == avatar["id"]
    assert conversation.avatar.name is None
    listed = [c for c in client.avatar_conversations.list(limit=100, avatar=avatar["id"])]
    assert [c.id for c in listed] == [session_id]
    assert listed[0].avatar.name is None


def test_capacity_queues_sessions(make_server: Any) -> None:
    small = make_server(OPENCHARACTERS_SESSION_CAPACITY="1")
    with api(small) as http:
        avatar = ready_avatar(http)
        first = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        wait_for(lambda: status_of(http, first), lambda s: s["status"] == "READY")
        second = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        queued = wait_for(lambda: status_of(http, second), lambda s: s.get("queued") is True)
        assert queued["status"] == "NOT_READY"
        assert http.delete(f"/v1/realtime_sessions/{first}").status_code == 204
        ready = wait_for(
            lambda: status_of(http, second), lambda s: s["status"] == "READY", timeout=5
        )
        assert "queued" not in ready and ready["sessionKey"]
        # A queued session can be cancelled too (NOT_READY -> CANCELLED).
        third = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        wait_for(lambda: status_of(http, third), lambda s: s.get("queued") is True)
        http.delete(f"/v1/realtime_sessions/{third}")
        assert status_of(http, third)["status"] == "CANCELLED"


def test_waiting_sessions_know_their_place_and_the_org_lists_its_active_sessions(
    make_server: Any,
) -> None:
    small = make_server(OPENCHARACTERS_SESSION_CAPACITY="1")
    with api(small) as http:
        avatar = ready_avatar(http)
        ids = [
            http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
            for _ in range(3)
        ]
        wait_for(lambda: status_of(http, ids[0]), lambda s: s["status"] == "READY")
        second = wait_for(lambda: status_of(http, ids[1]), lambda s: s.get("queued") is True)
        third = wait_for(lambda: status_of(http, ids[2]), lambda s: s.get("queued") is True)
        assert (second["queuePosition"], second["sessionsAhead"]) == (1, 1)
        assert (third["queuePosition"], third["sessionsAhead"]) == (2, 2)
        listed = http.get("/v1/realtime_sessions")
        assert listed.status_code == 200, listed.text
        rows = listed.json()["data"]
        assert [row["id"] for row in rows] == ids[::-1]  # newest first
        assert [row["status"] for row in rows] == ["NOT_READY", "NOT_READY", "READY"]
        assert all("sessionKey" not in row for row in rows)  # credentials only from GET {id}
        assert rows[2]["avatar"] == {"id": avatar["id"], "name": avatar["name"]}
        assert rows[0]["queuePosition"] == 2
        for session_id in ids:
            assert http.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204
        assert http.get("/v1/realtime_sessions").json() == {"data": []}
        busy = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        # Another organization sees none of them.
        key = subprocess.run(
            [sys.executable, "-m", "opencharacters", "keys", "create", "--org", "other"],
            env=small.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        with api(small, key) as other:
            assert other.get("/v1/realtime_sessions").json() == {"data": []}
        http.delete(f"/v1/realtime_sessions/{busy}")


def test_unconsumed_sessions_expire_and_restarts_fail_active_ones(make_server: Any) -> None:
    short = make_server(
        OPENCHARACTERS_SESSION_READY_TTL_S="5", OPENCHARACTERS_SCHEDULER_TICK_S="0.2"
    )
    client = RunwayML(base_url=short.base_url, api_key=API_KEY, max_retries=0)
    with api(short) as http:
        avatar = ready_avatar(http)
        expiring = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        failed = wait_for(
            lambda: status_of(http, expiring), lambda s: s["status"] == "FAILED", timeout=15
        )
        assert failed["failureCode"] == "SESSION_EXPIRED"
        assert "expired" in failed["failure"]
        conversation = client.avatar_conversations.retrieve(expiring)
        assert conversation.status == "failed"
        assert conversation.failure_code == "SESSION_EXPIRED"

        survivor = http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
        wait_for(lambda: status_of(http, survivor), lambda s: s["status"] == "READY")
    short.restart()
    with api(short) as http:
        after = status_of(http, survivor)
    # Stopping the server stops its media worker, which fails the sessions it held.
    assert after["status"] == "FAILED"
    assert after["failureCode"] == "SERVER_SHUTDOWN"


def test_concurrent_sessions_per_organization_are_limited(make_server: Any) -> None:
    limited = make_server(OPENCHARACTERS_MAX_CONCURRENT_SESSIONS_PER_ORG="2")
    client = RunwayML(base_url=limited.base_url, api_key=API_KEY, max_retries=0)
    with api(limited) as http:
        avatar = ready_avatar(http)
        ids = [
            http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).json()["id"]
            for _ in range(2)
        ]
        refused = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert "limit" in error_of(refused)
        with pytest.raises(runwayml.RateLimitError):
            client.realtime_sessions.create(
                model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar["id"]}
            )
        http.delete(f"/v1/realtime_sessions/{ids[0]}")
        assert (
            http.post("/v1/realtime_sessions", json=session_body(avatar["id"])).status_code == 200
        )
