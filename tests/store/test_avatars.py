"""Avatar queries the media workers use, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from opencharacters.domain.timefmt import utcnow
from opencharacters.store.accounts import get_or_create_org
from opencharacters.store.avatars import recent_personalities
from opencharacters.store.db import Database
from opencharacters.store.tables import Avatar

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        session.query(Avatar).delete()
    yield database
    with database.session() as session:
        session.query(Avatar).delete()
    database.dispose()


def test_recent_personalities_are_the_newest_usable_avatars_each_once(db: Database) -> None:
    """An idle worker reads these personas before their first call: ready avatars and those
    whose image is still being processed, newest first; a failed avatar has no call coming."""
    now = utcnow()
    saved = [
        ("Old one.", "READY", 50),
        ("Failed one.", "FAILED", 1),
        ("Processing one.", "PROCESSING", 2),
        ("Shared persona.", "READY", 3),
        ("Shared persona.", "READY", 4),
        ("Newest ready.", "READY", 0),
    ]
    with db.write_session() as s:
        org = get_or_create_org(s, f"org-{uuid.uuid4().hex[:8]}")
        for personality, status, minutes_ago in saved:
            when = now - timedelta(minutes=minutes_ago)
            s.add(
                Avatar(
                    id=str(uuid.uuid4()),
                    organization_id=org.id,
                    name="A",
                    personality=personality,
                    voice={"type": "runway-live-preset", "presetId": "clara"},
                    image_processing="optimize",
                    status=status,
                    image_generation=1,
                    created_at=when,
                    updated_at=when,
                )
            )
    with db.session() as s:
        assert recent_personalities(s, 3) == ["Newest ready.", "Processing one.", "Shared persona."]
        assert recent_personalities(s, 10) == [
            "Newest ready.",
            "Processing one.",
            "Shared persona.",
            "Old one.",
        ]
