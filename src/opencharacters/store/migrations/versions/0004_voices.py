"""custom voices

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opencharacters.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = opencharacters.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "voices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=8), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("sample_source", sa.Text(), nullable=True),
        sa.Column("sample_blob", sa.String(length=255), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.Column("design", sa.JSON(), nullable=True),
        sa.Column("fallback_preset", sa.String(length=32), nullable=True),
        sa.Column("preview_blob", sa.String(length=255), nullable=True),
        sa.Column("preview_duration_s", sa.Double(), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("deleted_at", utc, nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_voices_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voices")),
    )
    with op.batch_alter_table("voices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voices_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_voices_org_created", ["organization_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("voices", schema=None) as batch_op:
        batch_op.drop_index("ix_voices_org_created")
        batch_op.drop_index(batch_op.f("ix_voices_organization_id"))
    op.drop_table("voices")
