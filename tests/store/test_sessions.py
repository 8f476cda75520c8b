"""Session bookkeeping on the real store: the duration a finished call reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.db import Database
from opencharacters.store.sessions import call_duration, make_ready, set_status
from opencharacters.store.tables import Avatar, Conversation, RealtimeSession
from tests.store.test_scheduler import make_sessions

pytestmark = pytest.mark.integration

S = SessionStatus


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    with database.session() as session:
        session.query(RealtimeSession).delete()
        session.query(Conversation).delete()
        session.query(Avatar).delete()
    database.dispose()


def test_call_duration_rounds_and_is_bounded_by_the_limit() -> None:
    start = utcnow()
    assert call_duration(start, start + timedelta(seconds=41.4), 90) == 41
    assert call_duration(start, start + timedelta(seconds=89.6), 90) == 90
    # The worker stops at its limit; the stamps around it add a second or two.
    assert call_duration(start, start + timedelta(seconds=92.2), 90) == 90
    assert call_duration(start, start - timedelta(seconds=1), 90) == 0


@pytest.mark.parametrize("ending", [S.COMPLETED, S.CANCELLED, S.FAILED])
def test_a_call_stopped_at_its_limit_reports_at_most_max_duration(
    db: Database, ending: SessionStatus
) -> None:
    [session_id] = make_sessions(db, 1)
    with db.session() as s:
        session = s.get(RealtimeSession, session_id)
        assert session is not None
        make_ready(s, session, 60)
        session.max_duration = 90
        started = utcnow() - timedelta(seconds=92.4)
        set_status(s, session, S.RUNNING, now=started)
        set_status(s, session, ending, now=started + timedelta(seconds=92.4))
    with db.session() as s:
        session = s.get(RealtimeSession, session_id)
        conversation = s.get(Conversation, session_id)
        assert session is not None and conversation is not None
        assert session.duration == 90
        assert conversation.duration == 90
        assert session.started_at is not None and session.ended_at is not None


@pytest.mark.parametrize("ending", [S.COMPLETED, S.CANCELLED, S.FAILED])
def test_an_ended_session_forgets_the_developers_room_token(
    db: Database, ending: SessionStatus
) -> None:
    [session_id] = make_sessions(db, 1)
    room = {"type": "livekit", "url": "wss://lk.example", "roomName": "r", "agentIdentity": "a"}
    with db.session() as s:
        session = s.get(RealtimeSession, session_id)
        assert session is not None
        session.integration = {**room, "token": "the developer's secret"}
        make_ready(s, session, 60)
        set_status(s, session, S.RUNNING)
        assert session.integration["token"] == "the developer's secret"  # the worker joins
        set_status(s, session, ending)
    with db.session() as s:
        session = s.get(RealtimeSession, session_id)
        assert session is not None
        assert session.integration == room
