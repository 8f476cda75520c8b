"""Schemathesis generates thousands of requests from /openapi.json; none may cause a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import API_KEY, Server


def test_openapi_describes_the_runway_surface(server: Server) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/v1/avatars",
        "/v1/avatars/{id}",
        "/v1/avatar_usage",
        "/v1/documents",
        "/v1/documents/{id}",
        "/v1/realtime_sessions",
        "/v1/realtime_sessions/{id}",
        "/v1/realtime_sessions/{id}/consume",
        "/v1/avatar_conversations",
        "/v1/avatar_conversations/{id}",
        "/v1/avatars/{id}/conversations",
        "/v1/avatars/{id}/conversations/{conversationId}",
        "/v1/uploads",
    } <= paths


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(server: Server, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency"
    result = subprocess.run(
        [
            st,
            "run",
            f"{server.base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {API_KEY}",
            "--header",
            "X-Runway-Version: 2024-11-06",
            "--max-examples",
            "25",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "20261125",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
    assert " 0 passed" not in result.stdout
    assert "Internal server error" not in server.log()
