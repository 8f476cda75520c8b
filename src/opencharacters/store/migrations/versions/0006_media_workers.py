"""media workers: their leases, and which one holds each session

Revision ID: 0006
Revises: 0011
Create Date: 2026-12-04 07:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opencharacters.store.types

revision: str = "0006"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = opencharacters.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "media_workers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", utc, nullable=False),
        sa.Column("heartbeat_at", utc, nullable=False),
        sa.Column("stopped_at", utc, nullable=True),
        sa.Column("lost", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_workers")),
    )
    with op.batch_alter_table("media_workers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_workers_heartbeat_at"), ["heartbeat_at"], unique=False
        )
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("alive_at", utc, nullable=True))
        batch_op.add_column(sa.Column("backend_token", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_realtime_sessions_worker_id"), ["worker_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_sessions_worker_id"))
        batch_op.drop_column("backend_token")
        batch_op.drop_column("alive_at")
        batch_op.drop_column("worker_id")
    with op.batch_alter_table("media_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_workers_heartbeat_at"))
    op.drop_table("media_workers")
