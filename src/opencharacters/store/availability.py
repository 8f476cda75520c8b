"""Telling "the database is away" (down, restarting, connection lost) from every other failure:
the first is retried or answered 503, the others are faults."""

from __future__ import annotations

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
