"""Conversation intelligence: the latest classification of each dialogue (issue 9, triage).

Revision ID: 0006
Revises: 0005 (client memory)
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialogue_triage",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("needs_human", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False, server_default=""),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("turns_seen", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "dialog_key", name="pk_dialogue_triage"),
    )


def downgrade() -> None:
    op.drop_table("dialogue_triage")
