"""Telling an outage an operator mends (the database away, the disk full or read-only) from a
fault, through the wrappers SQLAlchemy and our own code put around the driver's error."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from opencharacters.store.availability import (
    STORAGE_FULL,
    STORAGE_READ_ONLY,
    outage,
    storage_problem,
)

pytestmark = pytest.mark.unit


def _sqlite(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("sqlite says no")
    error.sqlite_errorcode = code
    return error


def _wrapped(cause: BaseException) -> RuntimeError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("a write failed") from inner
    except RuntimeError as outer:
        return outer


def test_a_full_sqlite_disk_inside_sqlalchemys_error_is_an_outage() -> None:
    wrapped = OperationalError("COMMIT", {}, _sqlite(13))
    assert storage_problem(wrapped) == STORAGE_FULL
    assert outage(_wrapped(wrapped)) == STORAGE_FULL


def test_read_only_storage_and_a_full_disk_by_errno() -> None:
    assert outage(_sqlite(8)) == STORAGE_READ_ONLY
    assert outage(OSError(errno.ENOSPC, "No space left on device")) == STORAGE_FULL
    assert outage(OSError(errno.EROFS, "Read-only file system")) == STORAGE_READ_ONLY


def test_an_unreachable_database_is_an_outage() -> None:
    assert outage(psycopg.OperationalError("connection refused")) == "the database is unreachable"


def test_a_fault_is_not_an_outage() -> None:
    assert outage(_sqlite(1)) is None  # SQLITE_ERROR: a bad statement is ours to fix
    assert outage(ValueError("bad value")) is None
    assert outage(OSError(errno.EACCES, "Permission denied")) is None
