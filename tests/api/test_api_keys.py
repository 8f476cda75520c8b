"""/v1/organization/api_keys: an organization lists, creates and revokes its own keys only."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.http import api, error_of
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

MISSING = "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"


def other_org_key(server: Server, org: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "opencharacters", "keys", "create", "--org", org],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1]


def test_create_list_and_revoke_keys_of_the_callers_organization(server: Server) -> None:
    with api(server) as http:
        created = http.post("/v1/organization/api_keys", json={"name": "ci"})
        assert created.status_code == 200, created.text
        body = created.json()
        secret = body.pop("key")
        assert secret.startswith("oc_") and len(secret) > 30
        assert body["name"] == "ci" and body["status"] == "ACTIVE" and body["current"] is False
        assert secret.startswith(body["prefix"]) and body["revokedAt"] is None

        listed = http.get("/v1/organization/api_keys").json()["data"]
        assert secret not in str(listed) and API_KEY not in str(listed)
        assert listed[0] == body  # newest first, the same fields, never the secret
        current = [key for key in listed if key["current"]]
        assert len(current) == 1 and API_KEY.startswith(current[0]["prefix"])

        # The new key works, for the same organization's resources.
        with api(server, secret) as other:
            assert other.get("/v1/avatars").status_code == 200
            mine = other.get("/v1/organization/api_keys").json()["data"]
            assert {k["id"] for k in mine} == {k["id"] for k in listed}

        unnamed = http.post("/v1/organization/api_keys", json={})
        assert unnamed.status_code == 200 and unnamed.json()["name"] is None

        revoked = http.delete(f"/v1/organization/api_keys/{body['id']}")
        assert revoked.status_code == 204
        assert http.delete(f"/v1/organization/api_keys/{body['id']}").status_code == 204
        with api(server, secret) as other:
            assert other.get("/v1/avatars").status_code == 401
        after = {k["id"]: k for k in http.get("/v1/organization/api_keys").json()["data"]}
        assert after[body["id"]]["status"] == "REVOKED" and after[body["id"]]["revokedAt"]


def test_other_organizations_keys_are_invisible(server: Server) -> None:
    stranger = other_org_key(server, "stranger-org")
    with api(server, stranger) as theirs:
        their_keys = theirs.get("/v1/organization/api_keys").json()["data"]
        assert len(their_keys) == 1 and their_keys[0]["current"]
    with api(server) as http:
        mine = http.get("/v1/organization/api_keys").json()["data"]
        assert their_keys[0]["id"] not in {k["id"] for k in mine}
        refused = http.delete(f"/v1/organization/api_keys/{their_keys[0]['id']}")
        assert refused.status_code == 404
        assert error_of(refused) == f"API key {their_keys[0]['id']} not found."
        assert http.delete(f"/v1/organization/api_keys/{MISSING}").status_code == 404
    with api(server, stranger) as theirs:
        assert theirs.get("/v1/avatars").status_code == 200  # still valid


def test_validation_and_authentication(server: Server) -> None:
    with api(server) as http:
        too_long = http.post("/v1/organization/api_keys", json={"name": "x" * 101})
        assert too_long.status_code == 400
        assert error_of(too_long) == "name: must be at most 100 characters (got 101)"
        unknown = http.post("/v1/organization/api_keys", json={"org": "other"})
        assert unknown.status_code == 400 and "org" in error_of(unknown)
        assert http.delete("/v1/organization/api_keys/not-a-uuid").status_code == 400
    anonymous = httpx.get(f"{server.base_url}/v1/organization/api_keys")
    assert anonymous.status_code == 401


def test_revoking_the_key_in_use_signs_it_out(server: Server) -> None:
    with api(server) as http:
        secret = http.post("/v1/organization/api_keys", json={"name": "temp"}).json()["key"]
    with api(server, secret) as temp:
        me = [k for k in temp.get("/v1/organization/api_keys").json()["data"] if k["current"]]
        assert temp.delete(f"/v1/organization/api_keys/{me[0]['id']}").status_code == 204
        assert temp.get("/v1/organization/api_keys").status_code == 401


def test_the_endpoints_are_documented(server: Server) -> None:
    paths = httpx.get(f"{server.base_url}/openapi.json").json()["paths"]
    assert set(paths["/v1/organization/api_keys"]) == {"get", "post"}
    assert set(paths["/v1/organization/api_keys/{id}"]) == {"delete"}
    assert not [path for path in paths if path.startswith("/portal") or path == "/"]


def test_an_organization_holds_a_limited_number_of_keys(make_server: Any) -> None:
    server: Server = make_server(OPENCHARACTERS_MAX_API_KEYS_PER_ORG="5")
    with api(server) as http:
        # The bootstrap key is one; eight concurrent creations may add exactly four.
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda i: http.post("/v1/organization/api_keys", json={"name": f"k{i}"}),
                    range(8),
                )
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] * 4 + [403] * 4, [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 403)
        assert error_of(refused) == (
            "This organization already has 5 active API keys (the limit); "
            "revoke one before creating another."
        )
        keys = http.get("/v1/organization/api_keys").json()["data"]
        assert len(keys) == 5
        spare = next(k for k in keys if not k["current"])
        assert http.delete(f"/v1/organization/api_keys/{spare['id']}").status_code == 204
        assert http.post("/v1/organization/api_keys", json={}).status_code == 200
        assert http.post("/v1/organization/api_keys", json={}).status_code == 403
