"""Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from opencharacters.store.db import Database
from opencharacters.store.tables import Base

pytestmark = pytest.mark.integration


def test_migrations_match_the_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()
        db.migrate()  # idempotent
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        db.dispose()
