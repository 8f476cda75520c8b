"""SSRF through redirects, end to end: a real server fetching reference images, voice samples and
avatar-video audio from an https host that redirects to internal addresses.

The "public" host is a TLS server on 127.0.0.2 that the server is told to trust (as an operator
would trust an internal image host); the "internal service" is a listener on 127.0.0.1 and ::1
whose port is allowed too, so only the address rule stands between them. It must never see a
connection, and nothing the caller reads may say what answered inside."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http import api, ready_avatar, wait_for
from tests.support.media import FACE_JPEG
from tests.support.server import Server
from tests.support.tls import TlsHost, Trap, tls_host, trap_listener

pytestmark = [pytest.mark.integration, pytest.mark.one_database]

HOST_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    with trap_listener() as listening:
        yield listening


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, trap: Trap) -> Iterator[TlsHost]:
    with tls_host(tmp_path_factory.mktemp("tls"), address=HOST_ADDRESS) as running:
        running.routes["/face.jpg"] = (200, FACE_JPEG.read_bytes(), "image/jpeg")
        running.redirects["/moved-face.jpg"] = (302, "/face.jpg")
        internal = {
            "/to-loopback": f"https://127.0.0.1:{trap.port}/internal-face.jpg",
            "/to-loopback-http": f"http://127.0.0.1:{trap.port}/latest/meta-data/",
            "/to-localhost": f"https://localhost:{trap.port}/internal-face.jpg",
            "/to-ipv6-loopback": f"https://[::1]:{trap.port}/internal-face.jpg",
            "/to-mapped": f"https://[::ffff:127.0.0.1]:{trap.port}/internal-face.jpg",
            "/to-compatible": f"https://[::7f00:1]:{trap.port}/x",
            "/to-nat64": f"https://[64:ff9b::7f00:1]:{trap.port}/x",
            "/to-6to4": f"https://[2002:7f00:1::]:{trap.port}/x",
            "/to-link-local": f"https://169.254.169.254:{trap.port}/latest/meta-data/",
            "/to-any": f"https://0.0.0.0:{trap.port}/x",
        }
        for path, location in internal.items():
            running.redirects[path] = (302, location)
        # Two hops: the second is the internal one.
        running.redirects["/chain"] = (301, "/to-loopback")
        yield running


@pytest.fixture(scope="module")
def fetching(make_server: Any, host: TlsHost, trap: Trap) -> Server:
    server: Server = make_server(
        OPENCHARACTERS_FETCH_ALLOW_NETWORKS=f'["{HOST_ADDRESS}/32"]',
        OPENCHARACTERS_FETCH_PORTS=f"{host.port},{trap.port}",
        OPENCHARACTERS_FETCH_CA_BUNDLE=str(host.ca_bundle),
        OPENCHARACTERS_FETCH_TIMEOUT_S="5",
    )
    return server


def _reveals_nothing(reason: str, trap: Trap) -> None:
    for secret in (str(trap.port), "127.0.0.1", "::1", "169.254", "refused", "HTTP"):
        assert secret not in reason, reason


def test_a_redirect_to_a_trusted_host_still_works(fetching: Server, host: TlsHost) -> None:
    with api(fetching) as http:
        avatar = ready_avatar(http, referenceImage=f"{host.base_url}/moved-face.jpg")
    assert avatar["status"] == "READY", avatar


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/to-loopback", "redirected to a non-public address"),
        ("/chain", "redirected to a non-public address"),
        ("/to-loopback-http", "redirected to a non-https URL"),
        ("/to-localhost", "redirected to a non-public address"),
        ("/to-ipv6-loopback", "redirected to a non-public address"),
        ("/to-mapped", "redirected to a non-public address"),
        ("/to-compatible", "redirected to a non-public address"),
        ("/to-nat64", "redirected to a non-public address"),
        ("/to-6to4", "redirected to a non-public address"),
        ("/to-link-local", "redirected to a non-public address"),
        ("/to-any", "redirected to a non-public address"),
    ],
)
def test_reference_images_never_reach_internal_addresses(
    fetching: Server, host: TlsHost, trap: Trap, path: str, reason: str
) -> None:
    with api(fetching) as http:
        avatar = ready_avatar(http, referenceImage=f"{host.base_url}{path}")
    assert avatar["status"] == "FAILED", avatar
    assert avatar["failureReason"] == f"Could not download the reference image: {reason}."
    assert avatar["referenceImageUri"] is None
    _reveals_nothing(avatar["failureReason"], trap)
    assert trap.connections == []


def test_voice_samples_never_reach_internal_addresses(
    fetching: Server, host: TlsHost, trap: Trap
) -> None:
    with api(fetching) as http:
        created = http.post(
            "/v1/voices",
            json={
                "name": "Cloned",
                "from": {"type": "audio", "audio": f"{host.base_url}/to-loopback"},
            },
        )
        assert created.status_code == 200, created.text
        voice = wait_for(
            lambda: http.get(f"/v1/voices/{created.json()['id']}").json(),
            lambda v: v["status"] != "PROCESSING",
            timeout=60,
        )
    assert voice["status"] == "FAILED", voice
    assert voice["failureReason"] == (
        "Could not download the audio sample: redirected to a non-public address."
    )
    assert trap.connections == []


def test_avatar_video_audio_never_reaches_internal_addresses(
    fetching: Server, host: TlsHost, trap: Trap
) -> None:
    with api(fetching) as http:
        avatar = ready_avatar(http)
        created = http.post(
            "/v1/avatar_videos",
            json={
                "model": "gwm1_avatars",
                "avatar": {"type": "custom", "avatarId": avatar["id"]},
                "speech": {"type": "audio", "audio": f"{host.base_url}/to-mapped"},
            },
        )
        assert created.status_code == 200, created.text
        task = wait_for(
            lambda: http.get(f"/v1/tasks/{created.json()['id']}").json(),
            lambda t: t["status"] in ("SUCCEEDED", "FAILED"),
            timeout=60,
        )
    assert task["status"] == "FAILED", task
    assert task["failure"] == "Could not download the audio: redirected to a non-public address."
    assert trap.connections == []
