from __future__ import annotations

import time
from pathlib import Path

import pytest

from opencharacters.blobs.signing import UrlSigner
from opencharacters.blobs.store import FilesystemBlobStore, content_type_for

pytestmark = pytest.mark.unit


def test_filesystem_store_round_trip_and_prefix_delete(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put_bytes("a/b/c.jpg", b"data")
    assert store.get_bytes("a/b/c.jpg") == b"data"
    assert store.exists("a/b/c.jpg")
    store.put_bytes("a/b/c.jpg", b"new")
    assert store.get_bytes("a/b/c.jpg") == b"new"
    assert not list((tmp_path / "a" / "b").glob(".tmp-*"))
    store.delete_prefix("a/")
    assert not store.exists("a/b/c.jpg")
    store.delete("a/b/c.jpg")  # deleting what is gone is fine


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", ""])
def test_keys_cannot_escape_the_store(tmp_path: Path, key: str) -> None:
    store = FilesystemBlobStore(tmp_path / "root")
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


def test_content_types() -> None:
    assert content_type_for("x/rec.mp4") == "video/mp4"
    assert content_type_for("x/p.jpg") == "image/jpeg"
    assert content_type_for("x/unknown") == "application/octet-stream"


def test_signatures_bind_purpose_subject_and_expiry() -> None:
    signer = UrlSigner(b"secret", "http://h:1/", 60)
    expires = signer.expiry()
    signature = signer.signature("blob", "k", expires)
    assert signer.verify("blob", "k", expires, signature)
    assert not signer.verify("blob", "other", expires, signature)
    assert not signer.verify("upload", "k", expires, signature)
    assert not signer.verify("blob", "k", expires + 1, signature)
    assert not signer.verify("blob", "k", "soon", signature)
    past = int(time.time()) - 1
    assert not signer.verify("blob", "k", past, signer.signature("blob", "k", past))
    assert not UrlSigner(b"other", "http://h:1", 60).verify("blob", "k", expires, signature)
    url = signer.blob_url("orgs/o/a b.jpg")
    assert url.startswith("http://h:1/v1/files/orgs/o/a%20b.jpg?expires=")
