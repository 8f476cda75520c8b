"""Telling "the database is away" (down, restarting, connection lost) from every other failure:
the first is retried or answered 503, the others are faults; and a full or read-only disk, which
is answered 507 and, where a write can wait, retried."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.exc import DBAPIError


def database_unreachable(exc: BaseException) -> bool:
    """Follows the chain of causes (SQLAlchemy wraps the driver's error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, psycopg.OperationalError):
            # No SQLSTATE: the connection failed or broke; 08: connection exceptions; 57P0x:
            # the server is shutting down, crashed or is starting up.
            sqlstate = current.sqlstate or ""
            if not sqlstate or sqlstate.startswith("08") or sqlstate.startswith("57P0"):
                return True
        # A connection used after it broke; SQLAlchemy's pool giving up on making one.
        if isinstance(current, psycopg.InterfaceError | sqlalchemy_exc.TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


STORAGE_FULL = (
    "The server's storage is full: nothing new can be saved until an operator frees space. "
    "Reading existing data still works."
)
STORAGE_READ_ONLY = (
    "The server's storage is read-only: nothing new can be saved until an operator makes it "
    "writable. Reading existing data still works."
)
STORAGE_FAILED = (
    "The server could not write to its storage; nothing was saved. Reading existing data still "
    "works."
)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# SQLite result codes (the low byte of sqlite_errorcode).
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 8, 10, 13
# PostgreSQL SQLSTATEs: class 53 is "insufficient resources" (53100 disk full).
_PG_READ_ONLY = "25006"


def storage_problem(exc: BaseException) -> str | None:
    """The message for a failure caused by full or read-only storage, else None. Follows the
    chain of causes, since the storage error is often wrapped (SQLAlchemy, our own errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _storage_problem_of(current)
        if found:
            return found
        current = current.__cause__ or current.__context__
    return None


def outage(exc: BaseException) -> str | None:
    """Why a write failed when it is an operator's to mend (the database away, the disk full or
    read-only), for one log line; None for a fault. A loop that meets one tries again later."""
    if database_unreachable(exc):
        return "the database is unreachable"
    return storage_problem(exc)


def _storage_problem_of(exc: BaseException) -> str | None:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return _storage_problem_of(exc.orig)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == _SQLITE_FULL:
            return STORAGE_FULL
        if code == _SQLITE_READONLY:
            return STORAGE_READ_ONLY
        if code == _SQLITE_IOERR:
            return STORAGE_FAILED
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith("53"):
            return STORAGE_FULL
        if sqlstate == _PG_READ_ONLY:
            return STORAGE_READ_ONLY
        return None
    if isinstance(exc, OSError):
        if exc.errno in _FULL_ERRNOS:
            return STORAGE_FULL
        if exc.errno == errno.EROFS:
            return STORAGE_READ_ONLY
    return None
