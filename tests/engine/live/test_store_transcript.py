"""The live transcript's write buffer on a real SQLite store whose connection is switched off
(or whose disk reports itself full): writes wait in order and are stored when it returns, a
newer revision of a line replaces one still waiting, the bound drops revisions before entries,
and `flush` says when some were lost."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from opencharacters.engine.live import transcript as transcript_module
from opencharacters.engine.live.transcript import StoreTranscript
from opencharacters.pipeline.clock import SessionClock
from opencharacters.store.db import Database
from opencharacters.store.tables import TranscriptEntry
from tests.store.test_scheduler import make_sessions

pytestmark = pytest.mark.integration


def refused() -> Exception:
    return psycopg.OperationalError("connection refused")


def disk_full() -> Exception:
    """As SQLite reports a write on a full disk (SQLITE_FULL)."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13
    return error


class SwitchedDatabase:
    """The real database, or a failure while `down`: a refused connection by default."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down = False
        self.failure: Callable[[], Exception] = refused

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        if self.down:
            raise self.failure()
        with self.db.session() as session:
            yield session


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[SwitchedDatabase, str]]:
    db = Database(f"sqlite:///{tmp_path / 'transcript.db'}")
    db.migrate()
    [session_id] = make_sessions(db, 1)
    yield SwitchedDatabase(db), session_id
    db.dispose()


def stored(db: Database, session_id: str) -> list[tuple[str, str | None]]:
    with db.session() as s:
        rows = s.scalars(
            select(TranscriptEntry)
            .where(TranscriptEntry.conversation_id == session_id)
            .order_by(TranscriptEntry.seq)
        )
        return [(row.role, row.content) for row in rows]


@pytest.mark.parametrize("failure", [refused, disk_full], ids=["unreachable", "disk-full"])
async def test_writes_wait_for_the_database_in_order(
    store: tuple[SwitchedDatabase, str],
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[[], Exception],
) -> None:
    monkeypatch.setattr(transcript_module, "RETRY_S", (0.01,))
    switched, session_id = store
    switched.failure = failure
    transcript = StoreTranscript(switched, session_id, SessionClock())  # type: ignore[arg-type]
    switched.down = True
    await transcript.entry("user", "Hello?", 1.0)
    line = await transcript.open_entry("assistant", "Hi", 2.0)
    assert line is not None
    await transcript.revise(line, "Hi, I'm")
    await transcript.revise(line, "Hi, I'm Ada.")  # replaces the revision still waiting
    assert len(transcript._pending) == 3
    assert await transcript.flush(0.2) is False  # still away: not stored yet
    switched.down = False
    assert await transcript.flush(5) is True
    assert stored(switched.db, session_id) == [("user", "Hello?"), ("assistant", "Hi, I'm Ada.")]
    await transcript.close()


async def test_a_full_buffer_drops_revisions_before_entries(
    store: tuple[SwitchedDatabase, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcript_module, "RETRY_S", (0.01,))
    monkeypatch.setattr(transcript_module, "MAX_BUFFERED", 3)
    switched, session_id = store
    transcript = StoreTranscript(switched, session_id, SessionClock())  # type: ignore[arg-type]
    switched.down = True
    line = await transcript.open_entry("assistant", "One", 1.0)
    assert line is not None
    await transcript.revise(line, "One two")
    await transcript.entry("user", "Three", 2.0)
    await transcript.entry("user", "Four", 3.0)  # full: the waiting revision goes first
    assert transcript.dropped == 1
    await transcript.entry("user", "Five", 4.0)  # only entries left: the newest waiting goes
    assert transcript.dropped == 2
    switched.down = False
    assert await transcript.flush(5) is True
    assert stored(switched.db, session_id) == [
        ("assistant", "One"),
        ("user", "Three"),
        ("user", "Five"),
    ]
    await transcript.close()
