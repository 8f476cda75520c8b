"""job leases (background jobs claimed by one API node) and shared rate buckets

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opencharacters.store.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = opencharacters.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "job_leases",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_job_leases")),
    )
    op.create_index(op.f("ix_job_leases_expires_at"), "job_leases", ["expires_at"])
    # Every authenticated request updates a bucket: on PostgreSQL the table is UNLOGGED (no
    # WAL for it; a crash empties it, which only refills the buckets).
    prefixes = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_buckets")),
        prefixes=prefixes,
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_index(op.f("ix_job_leases_expires_at"), table_name="job_leases")
    op.drop_table("job_leases")
