"""The S3 blob store against a real S3-compatible server (versitygw, tests/support/s3.py)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from opencharacters.blobs.s3 import S3BlobStore
from opencharacters.settings import S3Settings
from tests.support.s3 import S3Server

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def settings_for(s3: S3Server, bucket: str, **overrides: object) -> S3Settings:
    return S3Settings(
        bucket=bucket,
        endpoint_url=s3.endpoint_url,
        region=s3.region,
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
        path_style=True,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(s3: S3Server) -> S3BlobStore:
    return S3BlobStore(settings_for(s3, s3.create_bucket()))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_put_get_exists_delete(store: S3BlobStore, tmp_path: Path) -> None:
    store.put_bytes("orgs/o1/avatars/a1/processed.jpg", b"jpeg bytes")
    assert store.get_bytes("orgs/o1/avatars/a1/processed.jpg") == b"jpeg bytes"
    assert store.exists("orgs/o1/avatars/a1/processed.jpg")
    store.put_bytes("orgs/o1/avatars/a1/processed.jpg", b"replaced")
    assert store.get_bytes("orgs/o1/avatars/a1/processed.jpg") == b"replaced"

    source = tmp_path / "rig.json"
    source.write_bytes(b'{"rig": 1}')
    store.put_file("orgs/o1/avatars/a1/rig.json", source)
    store.put_bytes("orgs/o1/avatars/a10/processed.jpg", b"a neighbour, not under a1/")

    store.delete("orgs/o1/avatars/a1/processed.jpg")
    assert not store.exists("orgs/o1/avatars/a1/processed.jpg")
    store.delete("orgs/o1/avatars/a1/processed.jpg")  # deleting what is gone is fine
    with pytest.raises(FileNotFoundError):
        store.get_bytes("orgs/o1/avatars/a1/processed.jpg")

    store.delete_prefix("orgs/o1/avatars/a1/")
    assert not store.exists("orgs/o1/avatars/a1/rig.json")
    assert store.exists("orgs/o1/avatars/a10/processed.jpg")


@pytest.mark.parametrize("key", ["../escape", "a/../b", "/etc/passwd", "", "a//b"])
def test_keys_are_checked(store: S3BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


def test_presigned_url_serves_the_blob_with_ranges(store: S3BlobStore) -> None:
    data = bytes(range(256)) * 64
    store.put_bytes("recordings/s1.mp4", data)
    url = store.presigned_url("recordings/s1.mp4", 60)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url

    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/mp4"

    part = httpx.get(url, headers={"Range": "bytes=100-355"})
    assert part.status_code == 206
    assert part.content == data[100:356]
    assert part.headers["content-range"] == f"bytes 100-355/{len(data)}"


def test_tampered_other_key_and_other_bucket_urls_are_refused(
    s3: S3Server, store: S3BlobStore
) -> None:
    store.put_bytes("a/secret.jpg", b"mine")
    store.put_bytes("a/other.jpg", b"also mine")
    url = store.presigned_url("a/secret.jpg", 60)
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]

    tampered = with_query(
        url, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
    )
    assert httpx.get(tampered).status_code == 403
    longer = with_query(url, **{"X-Amz-Expires": "3600"})
    assert httpx.get(longer).status_code == 403
    other_key = url.replace("/a/secret.jpg", "/a/other.jpg")
    assert httpx.get(other_key).status_code == 403

    other_bucket = s3.create_bucket()
    S3BlobStore(settings_for(s3, other_bucket)).put_bytes("a/secret.jpg", b"theirs")
    moved = url.replace(f"/{store.bucket}/", f"/{other_bucket}/")
    assert moved != url
    assert httpx.get(moved).status_code == 403
    assert httpx.get(url).content == b"mine"


def test_expired_presigned_url_is_refused(store: S3BlobStore) -> None:
    store.put_bytes("a/brief.jpg", b"soon gone")
    # The signature's date has whole seconds: a 1 s URL signed late in a second may already be
    # expired by the first GET on a loaded box. 3 s leaves room for that GET.
    url = store.presigned_url("a/brief.jpg", 3)
    assert httpx.get(url).status_code == 200
    time.sleep(4.2)
    refused = httpx.get(url)
    assert refused.status_code == 403
    assert b"expired" in refused.content.lower()


def test_large_files_go_up_in_parts(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.create_bucket()
    store = S3BlobStore(settings_for(s3, bucket, multipart_threshold_bytes=5 * MiB))
    source = tmp_path / "recording.mp4"
    payload = (b"0123456789abcdef" * (MiB // 16)) * 11 + b"tail"
    source.write_bytes(payload)
    store.put_file("recordings/long.mp4", source)

    head = store._client.head_object(Bucket=bucket, Key="recordings/long.mp4")
    assert head["ContentLength"] == len(payload)
    # A multipart object's ETag ends in "-<parts>": 11 MiB in 5 MiB parts is 3.
    assert head["ETag"].strip('"').endswith("-3")
    assert store.get_bytes("recordings/long.mp4") == payload


def test_check_names_a_missing_bucket(s3: S3Server, store: S3BlobStore) -> None:
    store.check()
    missing = S3BlobStore(settings_for(s3, "no-such-bucket"))
    with pytest.raises(ClientError):
        missing.check()


def test_presigned_urls_name_the_public_endpoint(s3: S3Server) -> None:
    public = s3.endpoint_url.replace("127.0.0.1", "localhost")
    store = S3BlobStore(settings_for(s3, s3.create_bucket(), public_endpoint_url=public))
    store.put_bytes("a/b.jpg", b"seen from outside")
    url = store.presigned_url("a/b.jpg", 60)
    assert url.startswith(f"{public}/{store.bucket}/a/b.jpg?")
    assert httpx.get(url).content == b"seen from outside"
    # Signed for that host: the same URL through another name is refused.
    assert httpx.get(url.replace(public, s3.endpoint_url)).status_code == 403
