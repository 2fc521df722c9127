"""Scale-out: claim leases, queue priorities and the time a row was last announced to the queue.

Revision ID: 0004
Revises: 0002 (the knowledge base's 0003 is on another branch; re-chained at merge)
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", sa.Double(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("announced_at", sa.Double(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("announced_at")
        batch.drop_column("lease_until")
        batch.drop_column("priority")
