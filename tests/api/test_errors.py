"""Error answers at the edge, against a real server: 405 with Allow, bodies that are missing,
and a connection that stays usable after a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from opencharacters.store.db import normalize_url
from tests.support.http import VERSION, api, error_of
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

SOME_ID = "7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/avatars", "GET, HEAD, POST"),
        ("PUT", f"/v1/avatars/{SOME_ID}", "DELETE, GET, HEAD, PATCH"),
        ("POST", f"/v1/realtime_sessions/{SOME_ID}", "DELETE, GET, HEAD"),
        ("GET", f"/v1/realtime_sessions/{SOME_ID}/consume", "POST"),
        ("PATCH", "/v1/documents", "GET, HEAD, POST"),
    ],
)
def test_405_says_which_methods_are_allowed(
    server: Server, method: str, path: str, allow: str
) -> None:
    with api(server) as http:
        response = http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert f"allowed: {allow}" in error_of(response)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v1/avatars", "name, referenceImage, personality, voice"),
        ("/v1/documents", "name"),
        ("/v1/realtime_sessions", "model, avatar"),
        ("/v1/voices", "name, from"),
    ],
)
def test_a_missing_body_names_the_required_fields(server: Server, path: str, fields: str) -> None:
    with api(server) as http:
        for headers in ({"Content-Type": "application/json"}, {}):
            response = http.post(path, headers=headers)
            assert response.status_code == 400
            assert error_of(response) == (
                f"The request body is required: send a JSON object with {fields}"
            )


@contextmanager
def table_renamed(server: Server, table: str) -> Iterator[None]:
    """Takes a table away behind the server's back: its queries then fail unexpectedly."""
    assert server.database_url
    engine = create_engine(normalize_url(server.database_url))
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))
        engine.dispose()


def test_after_a_500_the_pooled_connection_still_works(make_server: Any) -> None:
    server: Server = make_server()
    with api(server) as http:
        assert http.get("/v1/documents").status_code == 200  # opens the pooled connection
        with table_renamed(server, "documents"):
            failed = http.get("/v1/documents")
            assert failed.status_code == 500
            assert error_of(failed) == "Internal server error; the failure was logged."
            assert failed.headers.get("connection") != "close"
            # The same pooled client, straight after: no reset connection.
            for _ in range(3):
                assert http.get("/v1/avatars").status_code == 200
        assert http.get("/v1/documents").status_code == 200
    # On one raw connection, to be sure it was kept rather than replaced.
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        request = (
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY + "\r\n"
            f"X-Runway-Version: {VERSION['X-Runway-Version']}\r\n\r\n"
        )
        with table_renamed(server, "documents"):
            sock.sendall(request.format(path="/v1/documents").encode())
            first = _read_response(sock)
            sock.sendall(request.format(path="/v1/avatars").encode())
            second = _read_response(sock)
    assert first.startswith(b"HTTP/1.1 500")
    assert second.startswith(b"HTTP/1.1 200")
    log = server.log()
    assert "Exception in ASGI application" not in log  # answered once, not re-raised
    assert log.count("unhandled error in GET /v1/documents") == 2


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head


def test_unknown_paths_are_json_404s(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/v1/nothing-here", headers=VERSION, timeout=30)
    assert response.status_code == 404 and error_of(response) == "No such endpoint."
