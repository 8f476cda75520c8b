"""Reference images from https:// (TLS, size caps, SSRF refusal) and runway:// uploads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from runwayml import RunwayML

from tests.support.http import api, avatar_body, error_of, ready_avatar
from tests.support.media import FACE_JPEG, noise_png
from tests.support.server import API_KEY, Server
from tests.support.tls import TlsHost, tls_host

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsHost]:
    with tls_host(tmp_path_factory.mktemp("tls")) as running:
        running.routes["/face.jpg"] = (200, FACE_JPEG.read_bytes(), "image/jpeg")
        running.routes["/big.png"] = (200, noise_png(1200, 1200), "image/png")
        yield running


@pytest.fixture(scope="module")
def fetching_server(make_server: Any, host: TlsHost) -> Server:
    server: Server = make_server(
        OPENCHARACTERS_FETCH_ALLOW_PRIVATE="true",
        OPENCHARACTERS_FETCH_PORTS="*",
        OPENCHARACTERS_FETCH_CA_BUNDLE=str(host.ca_bundle),
        OPENCHARACTERS_FETCH_MAX_BYTES="1000000",
        OPENCHARACTERS_FETCH_TIMEOUT_S="1.5",
    )
    return server


@pytest.mark.one_database
def test_https_image_is_fetched_and_processed(fetching_server: Server, host: TlsHost) -> None:
    with api(fetching_server) as http:
        avatar = ready_avatar(http, referenceImage=f"{host.base_url}/face.jpg")
    assert avatar["status"] == "READY", avatar
    original = httpx.get(avatar["referenceImageUri"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.png", "the server did not answer with the file"),
        ("/big.png", "larger than the limit of 1000000 bytes"),
        ("/slow.png", "within 1.5 s"),
    ],
)
def test_https_failures_have_reasons(
    fetching_server: Server, host: TlsHost, path: str, reason: str
) -> None:
    with api(fetching_server) as http:
        avatar = ready_avatar(http, referenceImage=f"{host.base_url}{path}")
    assert avatar["status"] == "FAILED"
    assert "Could not download the reference image" in avatar["failureReason"]
    assert reason in avatar["failureReason"]


@pytest.mark.one_database
def test_private_addresses_are_refused_by_default(server: Server, host: TlsHost) -> None:
    # The default server neither trusts the test CA nor allows loopback, nor other ports than
    # 443 and 8443. (Redirects: tests/api/test_ssrf.py.)
    for url, reason in (
        ("https://localhost/face.jpg", "the URL's host name resolves to a non-public address"),
        ("https://127.0.0.1:8443/face.jpg", "the URL's address is not public"),
        ("https://169.254.169.254/latest/meta-data/x", "the URL's address is not public"),
        ("https://[::1]/face.png", "the URL's address is not public"),
        (
            f"{host.base_url}/face.jpg",
            f"the URL has port {host.port}, which is not allowed (allowed: 443, 8443)",
        ),
    ):
        with api(server) as http:
            avatar = ready_avatar(http, referenceImage=url)
        assert avatar["status"] == "FAILED", url
        assert avatar["failureReason"] == f"Could not download the reference image: {reason}."


@pytest.mark.one_database
def test_untrusted_certificates_are_refused(make_server: Any, host: TlsHost) -> None:
    strict = make_server(OPENCHARACTERS_FETCH_ALLOW_PRIVATE="true", OPENCHARACTERS_FETCH_PORTS="*")
    with api(strict) as http:
        avatar = ready_avatar(http, referenceImage=f"{host.base_url}/face.jpg")
    assert avatar["status"] == "FAILED"
    # Said without the certificate's details (they would tell a scanner what answered).
    assert avatar["failureReason"] == (
        "Could not download the reference image: could not connect to the server."
    )


def test_uploads_become_runway_uris(client: RunwayML, server: Server) -> None:
    uploaded = client.uploads.create_ephemeral(file=("portrait photo.jpg", FACE_JPEG.read_bytes()))
    assert uploaded.uri.startswith("runway://uploads/") and uploaded.uri.endswith(
        "/portrait_photo.jpg"
    )
    avatar = client.avatars.create(
        name="Uploaded",
        reference_image=uploaded.uri,
        personality="p",
        voice={"type": "runway-live-preset", "preset_id": "leo"},
    )
    with api(server) as http:
        done = ready_avatar(http, referenceImage=uploaded.uri)
    assert done["status"] == "READY"
    assert avatar.status == "PROCESSING"


def test_upload_protocol_edges(server: Server) -> None:
    with api(server) as http:
        started = http.post("/v1/uploads", json={"filename": "a.png", "type": "ephemeral"}).json()
        assert set(started) >= {"runwayUri", "uploadUrl", "fields"}
        url, fields = started["uploadUrl"], started["fields"]
        # Not yet uploaded: refusing it as a reference is a clear 400.
        pending = http.post("/v1/avatars", json=avatar_body(referenceImage=started["runwayUri"]))
        assert pending.status_code == 400 and "has not received its file" in error_of(pending)
        forged = httpx.post(
            url, data={**fields, "signature": "0" * 64}, files={"file": ("a.png", b"x")}
        )
        assert forged.status_code == 403
        no_file = httpx.post(url, data=fields, files={"other": ("a.png", b"x")})
        assert no_file.status_code == 400 and "file" in error_of(no_file)
        empty = httpx.post(url, data=fields, files={"file": ("a.png", b"")})
        assert empty.status_code == 400
        done = httpx.post(url, data=fields, files={"file": ("a.png", noise_png())})
        assert done.status_code == 204
        again = httpx.post(url, data=fields, files={"file": ("a.png", noise_png())})
        assert again.status_code == 403 and "already received" in error_of(again)
        chunked = httpx.post(
            url,
            content=iter([b"--x\r\n"]),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert chunked.status_code == 411 and "Content-Length" in error_of(chunked)
        for body, mentions in [
            ({"filename": ""}, "filename"),
            ({"filename": "f" * 256}, "filename: must be at most 255"),
            ({"filename": "a.png", "type": "permanent"}, "type"),
        ]:
            response = http.post("/v1/uploads", json=body)
            assert response.status_code == 400 and mentions in error_of(response)


@pytest.mark.one_database
def test_upload_size_limit(make_server: Any) -> None:
    small = make_server(OPENCHARACTERS_UPLOAD_MAX_BYTES="100000")
    with api(small) as http:
        started = http.post("/v1/uploads", json={"filename": "a.bin"}).json()
    url, fields = started["uploadUrl"], started["fields"]
    exact = httpx.post(url, data=fields, files={"file": ("a.bin", b"x" * 100_000)})
    assert exact.status_code == 204
    with api(small) as http:
        started = http.post("/v1/uploads", json={"filename": "b.bin"}).json()
    over = httpx.post(
        started["uploadUrl"], data=started["fields"], files={"file": ("b.bin", b"x" * 100_001)}
    )
    assert over.status_code == 413 and "100000" in error_of(over)
    way_over = httpx.post(
        started["uploadUrl"], data=started["fields"], files={"file": ("b.bin", b"x" * 300_000)}
    )
    assert way_over.status_code == 413
    client = RunwayML(base_url=small.base_url, api_key=API_KEY, max_retries=0)
    assert client.uploads.create_ephemeral(file=("c.bin", b"y" * 10)).uri.startswith("runway://")


def test_expired_uploads_are_refused(make_server: Any) -> None:
    short = make_server(OPENCHARACTERS_UPLOAD_TTL_S="2")
    with api(short) as http:
        used = http.post("/v1/uploads", json={"filename": "face.jpg"}).json()
        unused = http.post("/v1/uploads", json={"filename": "late.jpg"}).json()
        sent = httpx.post(
            used["uploadUrl"],
            data=used["fields"],
            files={"file": ("face.jpg", FACE_JPEG.read_bytes())},
        )
        assert sent.status_code == 204
        time.sleep(2.5)
        late = httpx.post(
            unused["uploadUrl"], data=unused["fields"], files={"file": ("late.jpg", b"x")}
        )
        assert late.status_code == 403 and "expired" in error_of(late)
        response = http.post("/v1/avatars", json=avatar_body(referenceImage=used["runwayUri"]))
        assert response.status_code == 400 and "has expired" in error_of(response)
