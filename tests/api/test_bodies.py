"""Request bodies against a real server: authentication comes before any body is read, and each
route's body limit holds whether the size is declared or the body streams in chunks."""

from __future__ import annotations

import base64
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from opencharacters.api.bodies import MEDIA_BODY_BYTES, SESSION_BODY_BYTES
from tests.support.http import VERSION, api, error_of, wait_for
from tests.support.media import FACE_JPEG
from tests.support.server import API_KEY, Server

pytestmark = pytest.mark.integration

HUGE = 200 * 1024 * 1024


def rss_bytes(server: Server) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send_huge(server: Server, path: str, headers: dict[str, str], *, chunked: bool) -> bytes:
    """Sends the head of a 200 MiB POST, then body bytes until the server answers or hangs up;
    returns what the server answered."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append("Content-Type: application/json")
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUGE}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = bytearray()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            answer.extend(data)

    reader = threading.Thread(target=read)
    reader.start()
    block = b'{"content": "' + b"x" * (1024 * 1024)
    sent = 0
    try:
        while sent < HUGE and not answer:
            piece = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
            sock.sendall(piece)
            sent += len(block)
    except OSError:
        pass  # the server hung up on the rest of the upload, as it should
    reader.join(timeout=10)
    stop.set()
    sock.close()
    assert sent < HUGE // 4, f"the server let {sent} bytes in before answering"
    return bytes(answer)


@pytest.mark.parametrize("chunked", [False, True])
def test_unauthenticated_huge_bodies_are_refused_before_they_are_read(
    server: Server, chunked: bool
) -> None:
    before = rss_bytes(server)
    started = time.monotonic()
    answers: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                send_huge(
                    server,
                    "/v1/documents",
                    {"Authorization": "Bearer not-a-key", **VERSION},
                    chunked=chunked,
                )
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert len(answers) == 4
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert b"connection: close" in answer.lower()
        assert b"Invalid API key" in answer
    assert elapsed < 10, elapsed
    # Four 200 MiB bodies read into memory would add gigabytes; being refused adds next to nothing.
    assert rss_bytes(server) - before < 30 * 1024 * 1024


def test_declared_oversized_bodies_get_413_at_once(server: Server) -> None:
    answer = send_huge(
        server, "/v1/documents", {"Authorization": f"Bearer {API_KEY}", **VERSION}, chunked=False
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"limit of {MEDIA_BODY_BYTES} bytes".encode() in answer


def test_streamed_oversized_bodies_are_cut_off_at_the_limit(server: Server) -> None:
    before = rss_bytes(server)
    answer = send_huge(
        server,
        "/v1/realtime_sessions",
        {"Authorization": f"Bearer {API_KEY}", **VERSION},
        chunked=True,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert f"limit of {SESSION_BODY_BYTES} bytes".encode() in answer
    assert b"connection: close" in answer.lower()
    assert rss_bytes(server) - before < 30 * 1024 * 1024


def test_small_bodies_have_small_limits(server: Server) -> None:
    with api(server) as http:
        response = http.post("/v1/uploads", content=b'{"filename": "' + b"a" * 70_000 + b'"}')
    assert response.status_code == 413
    assert "limit of 65536 bytes" in error_of(response)


def test_the_largest_data_uri_still_fits(server: Server) -> None:
    """referenceImage may be a 5,242,880-character data: URI; such a body must pass the gate."""
    prefix = "data:image/jpeg;base64,"
    room = (5_242_880 - len(prefix)) // 4 * 4  # base64 comes in groups of four
    image = FACE_JPEG.read_bytes()
    padded = image + b"\0" * (room // 4 * 3 - len(image))  # JPEG readers stop at the end marker
    uri = prefix + base64.b64encode(padded).decode()
    assert 5_242_877 <= len(uri) <= 5_242_880
    body = {
        "name": "Big",
        "referenceImage": uri,
        "personality": "p" * 10_000,
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }
    with api(server) as http:
        created = http.post("/v1/avatars", json=body)
        assert created.status_code == 200, created.text[:300]
        assert len(created.request.content) < MEDIA_BODY_BYTES
        avatar = wait_for(
            lambda: http.get(f"/v1/avatars/{created.json()['id']}").json(),
            lambda a: a["status"] != "PROCESSING",
            timeout=60,
        )
    assert avatar["status"] == "READY", avatar


def test_bodies_to_routes_without_api_keys_are_capped_too(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f/consume",
        headers={"Authorization": "Bearer x"},
        content=b"x" * 100_000,
    )
    assert response.status_code == 413
