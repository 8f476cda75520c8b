"""The blob store the settings name (OPENCHARACTERS_BLOB_STORE)."""

from __future__ import annotations

from opencharacters.blobs.store import BlobStore, FilesystemBlobStore
from opencharacters.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    if settings.blob_store == "s3":
        # Imported here: boto3 takes a moment to load and the embedded default never needs it.
        from opencharacters.blobs.s3 import S3BlobStore

        return S3BlobStore(settings.s3)
    return FilesystemBlobStore(settings.resolved_blob_dir)
