"""Serializing check-then-act work (count, then insert; read, then change) on both databases.

PostgreSQL locks rows: `SELECT … FOR UPDATE` makes a second transaction wait at that line until
the first commits, and its next statement then sees what the first wrote.
SQLite has no row locks and compiles `FOR UPDATE` to nothing; its only lock that orders such
work is the database's single write lock, which `BEGIN IMMEDIATE` takes before the first read.
(Without it, 200 concurrent session creations for one organization left 15 active with a limit
of 10, and an upload completed by 8 concurrent requests answered 204 six times.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import ORMExecuteState, Session

from opencharacters.store.tables import Organization


def is_sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def take_sqlite_write_lock(db: Session) -> None:
    """Takes SQLite's write lock for the rest of this transaction (waiting `busy_timeout`).

    The driver (pysqlite's default transaction handling) opens a transaction only before the
    first INSERT/UPDATE/DELETE, and that statement takes the write lock: so a connection already
    in a transaction holds it, and one that is not can still start with `BEGIN IMMEDIATE`."""
    connection = db.connection()
    raw: Any = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_organization(db: Session, org_id: str) -> None:
    """Until this transaction ends, no other transaction passes this call for the same
    organization (on SQLite: for any organization). Call it before reading what a limit or a
    single-use check depends on."""
    if is_sqlite(db):
        take_sqlite_write_lock(db)
        return
    db.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())


def sqlite_for_update(state: ORMExecuteState) -> None:
    """A `do_orm_execute` hook that gives `with_for_update=True` its meaning on SQLite: the
    write lock, taken before the row is read (SQLite drops the `FOR UPDATE` clause itself)."""
    statement: Any = state.statement
    # `_for_update_arg` is how SQLAlchemy records `.with_for_update()` on a SELECT (it has
    # no public accessor); reading it is the only way to see the request once compiled away.
    if state.is_select and getattr(statement, "_for_update_arg", None) is not None:
        take_sqlite_write_lock(state.session)
