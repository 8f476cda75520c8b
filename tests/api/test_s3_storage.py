"""A real server with its blobs in a real S3-compatible server (versitygw): handed-out URLs are
presigned GETs on the bucket, old /v1/files links redirect there, /readyz watches the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import boto3
import httpx
import pytest

from opencharacters.blobs.signing import UrlSigner
from tests.support.http import api, error_of, ready_avatar
from tests.support.s3 import S3Server
from tests.support.server import Server

pytestmark = pytest.mark.integration


def objects(s3: S3Server, bucket: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
    )
    listed = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> str:
    return s3.create_bucket()


@pytest.fixture(scope="module")
def server(s3: S3Server, bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("server"), None, media_workers=0, **s3.env(bucket)
    ).start()
    yield running
    running.stop()


def test_avatar_images_live_in_the_bucket_behind_presigned_urls(
    s3: S3Server, bucket: str, server: Server
) -> None:
    with api(server) as client:
        avatar = ready_avatar(client)
    assert avatar["status"] == "READY", avatar
    stored = objects(s3, bucket)
    assert any(key.endswith("processed.jpg") for key in stored), stored
    assert not (server.data_dir / "blobs").exists() or not any(
        path.is_file() for path in (server.data_dir / "blobs").rglob("*")
    )

    for field in ("processedImageUri", "referenceImageUri"):
        url = avatar[field]
        assert url.startswith(f"{s3.endpoint_url}/{bucket}/"), url
        query = dict(parse_qsl(urlsplit(url).query))
        assert query["X-Amz-Expires"] == str(24 * 3600)  # OPENCHARACTERS_SIGNED_URL_TTL_S
        image = httpx.get(url)
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/jpeg"
        assert image.content[:3] == b"\xff\xd8\xff"
        part = httpx.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == image.content[:100]
        assert httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403


def test_old_files_links_redirect_to_the_bucket(s3: S3Server, bucket: str, server: Server) -> None:
    key = next(key for key in objects(s3, bucket) if key.endswith("processed.jpg"))
    secret = (server.data_dir / "secret.key").read_text().strip().encode()
    link = UrlSigner(secret, server.base_url, 60).blob_url(key)
    answer = httpx.get(link)
    assert answer.status_code == 307
    assert answer.headers["location"].startswith(f"{s3.endpoint_url}/{bucket}/{key}?")
    assert httpx.get(link, follow_redirects=True).content[:3] == b"\xff\xd8\xff"
    forged = httpx.get(link.replace("signature=", "signature=0"))
    assert forged.status_code == 403
    assert "expired" in error_of(forged)


def test_readyz_names_an_unreachable_bucket(s3: S3Server, server: Server) -> None:
    assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}
    s3.stop()
    try:
        down = httpx.get(f"{server.base_url}/readyz", timeout=30)
        assert down.status_code == 503
        message = error_of(down)
        assert message.startswith("Not ready: blob store unreachable"), message
        assert "database" not in message
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    finally:
        s3.start()
    assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}
