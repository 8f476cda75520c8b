"""Unexpected failures become a JSON answer on a connection that stays usable.

Starlette's outermost error middleware re-raises after answering, so the server logs the error
a second time and drops the connection without `Connection: close`; a pooled client then fails
its next request on a dead socket. This middleware sits inside it: it answers (500, or 507 when
the disk is full or read-only), logs once, and does not re-raise."""

from __future__ import annotations

import errno
import logging
import sqlite3

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencharacters.api.bodies import send_error
from opencharacters.store.availability import database_unreachable

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal server error; the failure was logged."
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

DATABASE_UNAVAILABLE = (
    "database unavailable: the server cannot reach its database right now (restarting or "
    "unreachable); nothing was changed. Retry in a few seconds."
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


class FailureAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if database_unreachable(exc):
                log.error("%s %s: database unavailable: %s", scope["method"], scope["path"], exc)
                if started:
                    raise
                await send_error(send, 503, DATABASE_UNAVAILABLE, {"Retry-After": "2"}, close=False)
                return
            problem = storage_problem(exc)
            if problem:
                log.error("%s %s: storage failure: %r", scope["method"], scope["path"], exc)
            else:
                log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise  # too late for an answer of our own: the server closes the connection
            if problem:
                await send_error(send, 507, problem, {}, close=False)
            else:
                await send_error(send, 500, INTERNAL_ERROR, {}, close=False)
