"""Checks made before the server starts, so that an unusable data directory is one clear line
instead of a traceback ("unable to open database file") from deep inside start-up."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from opencharacters.settings import Settings


class StartupProblem(Exception):
    """Something an operator must fix before the server can start; the message is one line."""


def _why(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "it is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "this user may not write there"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return exc.strerror or str(exc)


def _check_writable_dir(path: Path, what: str) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupProblem(
            f"The {what} {path} is not writable: {_why(exc)}. The server keeps its database and "
            "files there; make it writable, or choose another with OPENCHARACTERS_DATA_DIR."
        ) from None


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def check_storage(settings: Settings) -> None:
    """Raises StartupProblem unless the data directory, the blob directory and a SQLite
    database file can be written."""
    _check_writable_dir(settings.data_dir, "data directory")
    if settings.blob_store == "filesystem":
        blob_dir = settings.resolved_blob_dir
        _check_writable_dir(blob_dir, "file directory (OPENCHARACTERS_BLOB_DIR)")
    database = _sqlite_path(settings.resolved_database_url)
    if database is None:
        return
    _check_writable_dir(database.parent, "database directory")
    if database.exists() and not os.access(database, os.W_OK):
        raise StartupProblem(
            f"The database file {database} is read-only; the server must write to it. "
            "Make it writable by this user."
        )
