"""/v1/organization and /v1/organization/usage through Runway's Python SDK, per-organization
limits set with the `opencharacters orgs limits` command (429s that name the limit), usage
metered from real work, and tasks that show THROTTLED while they wait for the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

MODELS = {
    "gwm1_avatars",
    "gwm1_avatar_async_audio_to_video",
    "gwm1_avatar_async_text_to_video",
    "voice_processing",
}

ORGS_LIMITS = [sys.executable, "-m", "opencharacters", "orgs", "limits", "default"]


def orgs_limits(server: Server, *args: str) -> str:
    """The operator's command, run against the server's database while it serves."""
    result = subprocess.run(
        [*ORGS_LIMITS, *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def session_body(avatar_id: str) -> dict[str, Any]:
    return {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}


def test_organization_has_the_sdk_shape(client: RunwayML) -> None:
    org = client.organization.retrieve()
    assert org.credit_balance == 0
    assert org.tier.max_monthly_credit_spend == 0
    assert set(org.tier.models) == MODELS
    assert org.tier.models["gwm1_avatars"].max_concurrent_generations == 10  # server default
    assert org.tier.models["gwm1_avatars"].max_daily_generations is None  # unlimited
    assert set(org.usage.models) == MODELS
    assert all(m.daily_generations >= 0 for m in org.usage.models.values())


def test_usage_ranges_default_validate_and_cover_each_day(client: RunwayML, server: Server) -> None:
    usage = client.organization.retrieve_usage()
    assert len(usage.results) == 30
    assert usage.results[0].date == datetime.now(UTC).date() - timedelta(days=30)
    start = date(2026, 1, 1)
    usage = client.organization.retrieve_usage(start_date=start, before_date=date(2026, 1, 4))
    assert [r.date for r in usage.results] == [start + timedelta(days=n) for n in range(3)]
    assert all(r.used_credits == [] for r in usage.results)
    with api(server) as http:
        for body, mentions in [
            ({"startDate": "2026-13-01"}, "startDate: must be a date as YYYY-MM-DD"),
            ({"startDate": "2026-01-05", "beforeDate": "2026-01-05"}, "beforeDate: must be after"),
            ({"startDate": "2026-01-01", "beforeDate": "2026-06-01"}, "at most 90 days"),
            ({"since": "2026-01-01"}, "since"),
        ]:
            response = http.post("/v1/organization/usage", json=body)
            assert response.status_code == 400, response.text
            assert mentions in error_of(response)


def test_limits_set_by_the_operator_answer_429_naming_the_limit(
    make_server: Any,
) -> None:
    server = make_server()
    client = RunwayML(base_url=server.base_url, api_key=API_KEY, max_retries=0)
    shown = orgs_limits(server, "--max-sessions-per-day", "2", "--max-concurrent-sessions", "5")
    assert "maxSessionsPerDay" in shown and "set for this organization" in shown
    with api(server) as http:
        avatar = ready_avatar(http)
        for _ in range(2):
            created = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
            assert created.status_code == 200, created.text
            http.delete(f"/v1/realtime_sessions/{created.json()['id']}")
        refused = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
        assert refused.status_code == 429
        assert error_of(refused).startswith("maxSessionsPerDay:")
        assert int(refused.headers["retry-after"]) > 80_000  # the first leaves the window
        with pytest.raises(runwayml.RateLimitError):
            client.realtime_sessions.create(
                model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar["id"]}
            )
        tier = client.organization.retrieve().tier.models["gwm1_avatars"]
        assert (tier.max_concurrent_generations, tier.max_daily_generations) == (5, 2)
        assert client.organization.retrieve().usage.models["gwm1_avatars"].daily_generations == 2
        limits = http.get("/v1/organization/limits").json()
        assert limits["limits"]["maxSessionsPerDay"] == {
            "limit": 2,
            "used": 2,
            "window": "last 24 hours",
            "default": False,
        }

        orgs_limits(
            server, "--max-sessions-per-day", "default", "--max-session-minutes-per-month", "0"
        )
        refused = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
        assert refused.status_code == 429
        assert error_of(refused).startswith("maxSessionMinutesPerMonth:")

        orgs_limits(
            server, "--max-session-minutes-per-month", "default", "--max-concurrent-sessions", "1"
        )
        first = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
        assert first.status_code == 200
        refused = http.post("/v1/realtime_sessions", json=session_body(avatar["id"]))
        assert refused.status_code == 429
        assert error_of(refused).startswith("maxConcurrentSessions:")

        orgs_limits(server, "--max-avatar-videos-per-day", "0")
        with pytest.raises(runwayml.RateLimitError) as refusal:
            client.avatar_videos.create(
                model="gwm1_avatars",
                avatar={"type": "custom", "avatar_id": avatar["id"]},
                speech={"type": "text", "text": "Hello."},
            )
        assert "maxAvatarVideosPerDay" in str(refusal.value)


def test_limits_command_refuses_nonsense(server: Server) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "opencharacters",
            "orgs",
            "limits",
            "default",
            "--max-sessions-per-day",
            "lots",
        ],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--max-sessions-per-day" in result.stderr and "'lots'" in result.stderr


def test_videos_are_metered_and_wait_throttled_for_the_cpu(
    client: RunwayML, server: Server
) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
    speech = {"type": "text", "text": "One, two, three, four, five, six, seven, eight."}
    avatar_ref = {"type": "custom", "avatar_id": avatar["id"]}
    first = client.avatar_videos.create(model="gwm1_avatars", avatar=avatar_ref, speech=speech)
    second = client.avatar_videos.create(model="gwm1_avatars", avatar=avatar_ref, speech=speech)
    seen: set[str] = set()

    def poll() -> str:
        status = client.tasks.retrieve(second.id).status
        seen.add(status)
        return status

    wait_for(poll, lambda s: s in ("SUCCEEDED", "FAILED"), timeout=240, interval=0.1)
    assert "THROTTLED" in seen, f"the second video waited for the first: {seen}"
    assert client.tasks.retrieve(first.id).status == "SUCCEEDED"
    assert client.tasks.retrieve(second.id).status == "SUCCEEDED"

    today = datetime.now(UTC).date()
    usage = client.organization.retrieve_usage(
        start_date=today, before_date=today + timedelta(days=1)
    )
    assert "gwm1_avatar_async_text_to_video" in usage.models
    [day] = usage.results
    spent = {credit.model: credit.amount for credit in day.used_credits}
    assert 2 <= spent["gwm1_avatar_async_text_to_video"] <= 20  # seconds of two short videos
    daily = client.organization.retrieve().usage.models
    assert daily["gwm1_avatar_async_text_to_video"].daily_generations == 2
    # Deleting a finished video does not give back the day's use.
    client.tasks.delete(first.id)
    again = client.organization.retrieve_usage(
        start_date=today, before_date=today + timedelta(days=1)
    )
    assert {c.model: c.amount for c in again.results[0].used_credits} == spent
    with api(server) as http:
        assert (
            http.get("/v1/organization/limits").json()["limits"]["maxAvatarVideosPerDay"]["used"]
            == 2
        )


def test_organization_endpoints_need_a_key(server: Server) -> None:
    assert httpx.get(f"{server.base_url}/v1/organization").status_code == 401
    assert httpx.post(f"{server.base_url}/v1/organization/usage", json={}).status_code == 401
