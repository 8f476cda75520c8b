"""Object storage for images, recordings and uploads: one interface, a filesystem default."""

from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Every method blocks (disk or network): call them on a thread (asyncio.to_thread).
    get_bytes raises FileNotFoundError for a missing key, as a file would."""

    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, source: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def presigned_url(self, key: str, ttl_s: int) -> str | None:
        """A URL the store itself serves (range requests included) that expires after ttl_s,
        or None when it has none: the API then hands out its own signed /v1/files link."""
        ...

    def check(self) -> None:
        """Raises (with a reason) when the store cannot be reached or written: /readyz."""
        ...


def content_type_for(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


class FilesystemBlobStore:
    """Blobs as files under one root; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def local_path(self, key: str) -> Path:
        """Only for serving /v1/files from this store: no other code reads blobs by path."""
        return self._path(key)

    def presigned_url(self, key: str, ttl_s: int) -> str | None:
        return None

    def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"blob directory {self.root} is not writable")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
