"""Supervision: answers held for an operator's approval (moderation mode), ratings and flags; the bot's
registered commands (issue 9).

Revision ID: 0007
Revises: 0006 (triage)
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "supervision_drafts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("inbox_id", sa.BigInteger(), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("dialog_id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_api", sa.String(8), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("citations", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("final", sa.Text(), nullable=False, server_default=""),
        sa.Column("decided_by", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("decided_row", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_drafts"),
        sa.UniqueConstraint("member_id", "inbox_id", name="uq_supervision_drafts_row"),
    )
    op.create_index("ix_supervision_drafts_status", "supervision_drafts", ["member_id", "status"])
    op.create_table(
        "supervision_feedback",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_feedback"),
        sa.UniqueConstraint("member_id", "kind", "target", "user_id", name="uq_supervision_feedback_once"),
    )
    op.create_table(
        "bot_commands",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("command_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "bot_id", "name", name="pk_bot_commands"),
    )


def downgrade() -> None:
    op.drop_table("bot_commands")
    op.drop_table("supervision_feedback")
    op.drop_index("ix_supervision_drafts_status", table_name="supervision_drafts")
    op.drop_table("supervision_drafts")
