"""Organization limits and metering on SQLite and PostgreSQL: live calls count toward the month's
minutes as they run, metering is once per thing, the 24-hour window frees places in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.domain.errors import TooManyRequests
from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.db import Database
from opencharacters.store.limits import OrgLimits, check_session_limits, org_use
from opencharacters.store.tables import RealtimeSession
from opencharacters.store.usage import Model, daily_use, meter

pytestmark = pytest.mark.integration

UNLIMITED = OrgLimits(None, None, None, None)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()


def new_org(db: Database) -> str:
    with db.session() as s:
        return get_or_create_org(s, f"org-{uuid.uuid4()}").id


def add_session(db: Database, org_id: str, status: SessionStatus, **fields: object) -> str:
    now = utcnow()
    session_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            RealtimeSession(
                id=session_id,
                organization_id=org_id,
                avatar_id=str(uuid.uuid4()),
                status=status.value,
                queued=False,
                max_duration=300,
                tools=[],
                created_at=fields.pop("created_at", now),
                updated_at=now,
                **fields,
            )
        )
    return session_id


def test_running_calls_count_toward_the_months_minutes(database: Database) -> None:
    org_id = new_org(database)
    now = utcnow()
    with database.session() as s:
        meter(s, org_id, Model.AVATARS, "earlier-call", 90, now)
        meter(s, org_id, Model.AVATARS, "earlier-call", 90, now)  # once per subject
    add_session(database, org_id, SessionStatus.RUNNING, started_at=now - timedelta(seconds=45))
    with database.session() as s:
        used = org_use(s, org_id).session_seconds_this_month
        assert 134 <= used <= 140  # 90 metered + ~45 live
        check_session_limits(s, org_id, OrgLimits(None, None, 3, None))  # 2.3 of 3 minutes
        with pytest.raises(TooManyRequests) as refused:
            check_session_limits(s, org_id, OrgLimits(None, None, 2, None))
    assert str(refused.value).startswith("maxSessionMinutesPerMonth:")
    assert "2 minutes" in str(refused.value)


def test_the_daily_window_frees_the_oldest_place_first(database: Database) -> None:
    org_id = new_org(database)
    now = utcnow()
    add_session(database, org_id, SessionStatus.COMPLETED, created_at=now - timedelta(hours=30))
    add_session(database, org_id, SessionStatus.COMPLETED, created_at=now - timedelta(hours=20))
    add_session(database, org_id, SessionStatus.COMPLETED, created_at=now - timedelta(hours=2))
    with database.session() as s:
        assert org_use(s, org_id).sessions_last_day == 2  # the 30-hour-old one left the window
        check_session_limits(s, org_id, OrgLimits(None, 3, None, None))
        with pytest.raises(TooManyRequests) as refused:
            check_session_limits(s, org_id, OrgLimits(None, 2, None, None))
    # The place frees when the 20-hour-old session leaves the window: in about 4 hours.
    wait = int(refused.value.headers["Retry-After"])
    assert 4 * 3600 - 60 <= wait <= 4 * 3600 + 2


def test_concurrent_sessions_count_only_active_ones(database: Database) -> None:
    org_id = new_org(database)
    add_session(database, org_id, SessionStatus.READY)
    add_session(database, org_id, SessionStatus.CANCELLED)
    with database.session() as s:
        check_session_limits(s, org_id, OrgLimits(2, None, None, None))
        with pytest.raises(TooManyRequests, match=r"^maxConcurrentSessions: .* 1 active"):
            check_session_limits(s, org_id, OrgLimits(1, None, None, None))
        check_session_limits(s, org_id, UNLIMITED)


def test_daily_use_groups_by_utc_day_and_model(database: Database) -> None:
    org_id = new_org(database)
    day = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with database.session() as s:
        meter(s, org_id, Model.VIDEO_FROM_TEXT, "v1", 2.5, day)
        meter(s, org_id, Model.VIDEO_FROM_TEXT, "v2", 3.0, day + timedelta(hours=1))
        meter(s, org_id, Model.VOICE_PROCESSING, "voice", 1, day + timedelta(days=1))
        other = get_or_create_org(s, f"other-{uuid.uuid4()}").id
        meter(s, other, Model.VIDEO_FROM_TEXT, "not-ours", 9.0, day)  # another organization's
        used = daily_use(s, org_id, day.date(), (day + timedelta(days=3)).date())
    assert [(u.day, u.model, u.amount, u.count) for u in used] == [
        (day.date(), Model.VIDEO_FROM_TEXT, 5.5, 2),
        ((day + timedelta(days=1)).date(), Model.VOICE_PROCESSING, 1.0, 1),
    ]
