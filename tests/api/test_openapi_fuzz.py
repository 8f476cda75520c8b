"""/openapi.json describes every response, errors included, and Schemathesis holds the server to
it: thousands of generated requests, none answered with a 5xx, an undocumented status, a body
that does not match its documented schema, or a wrong Allow header."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import API_KEY, Server

# On PostgreSQL alone: the stricter store (it refuses what SQLite lets through, e.g. NUL bytes).
pytestmark = [pytest.mark.integration, pytest.mark.one_database]


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


def test_openapi_documents_errors_ids_and_success_bodies(server: Server) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert spec["components"]["schemas"]["Error"] == {
        "additionalProperties": False,
        "description": spec["components"]["schemas"]["Error"]["description"],
        "properties": {"error": {"title": "Error", "type": "string"}},
        "required": ["error"],
        "title": "Error",
        "type": "object",
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # validation errors are 400 here
            for status in ("400", "401", "404", "413", "429", "500", "507"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == error_ref, (method, path, status)
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("id", "conversationId"):
                    assert parameter["schema"]["format"] == "uuid", (method, path)
    avatar = spec["paths"]["/v1/avatars/{id}"]["get"]["responses"]["200"]
    assert avatar["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Avatar"
    }
    assert spec["components"]["schemas"]["Avatar"]["additionalProperties"] is False


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
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,response_headers_conformance,allow_header_conformance",
            "--header",
            f"Authorization: Bearer {API_KEY}",
            "--header",
            "X-Runway-Version: 2024-11-06",
            # Bounded: about 4,000 requests over every operation in two minutes.
            "--max-examples",
            "10",
            "--request-timeout",
            "60",
            "--workers",
            "1",
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
