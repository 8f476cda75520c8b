"""Transcript entries written as a call goes: sequence numbers and Runway's 1,000-entry cap."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from opencharacters.domain.timefmt import utcnow
from opencharacters.store.db import Database
from opencharacters.store.tables import TranscriptEntry
from opencharacters.store.transcripts import MAX_ENTRIES, append_entry
from tests.store.test_scheduler import db, make_sessions

pytestmark = pytest.mark.integration

__all__ = ["db"]


def test_entries_are_numbered_and_capped_at_the_limit(db: Database) -> None:
    (session_id,) = make_sessions(db, 1)
    with db.session() as s:
        assert append_entry(s, session_id, role="assistant", content="Hi", timestamp=utcnow()) == 1
        s.add_all(
            TranscriptEntry(conversation_id=session_id, seq=seq, role="user", content=str(seq))
            for seq in range(2, MAX_ENTRIES)
        )
        s.flush()
        last = append_entry(s, session_id, role="user", content="last", timestamp=utcnow())
        assert last == MAX_ENTRIES
        over = append_entry(s, session_id, role="assistant", content="over", timestamp=utcnow())
        assert over is None
    with db.session() as s:
        count = s.scalar(select(func.count()).where(TranscriptEntry.conversation_id == session_id))
        assert count == MAX_ENTRIES
