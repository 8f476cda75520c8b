"""realtime sessions: the developer's LiveKit room an avatar joins as their agent's face

Revision ID: 0015
Revises: 0006
Create Date: 2026-12-04 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integration", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("realtime_sessions", schema=None) as batch_op:
        batch_op.drop_column("integration")
