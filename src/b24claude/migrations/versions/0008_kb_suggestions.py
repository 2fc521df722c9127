"""The knowledge loop: unanswered questions and FAQ suggestions (issue 9 part 5).

Revision ID: 0008
Revises: 0007 (supervision)
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kb_questions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("dialog_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_api", sa.String(8), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="ru"),
        sa.Column("answer", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("suggestion_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_questions"),
        sa.UniqueConstraint("member_id", "dialog_key", "message_id", name="uq_kb_questions_message"),
    )
    op.create_index("ix_kb_questions_status", "kb_questions", ["member_id", "status"])
    op.create_table(
        "kb_suggestions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("lemmas", sa.Text(), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("source", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kb_suggestions"),
    )
    op.create_index("ix_kb_suggestions_status", "kb_suggestions", ["member_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_kb_suggestions_status", table_name="kb_suggestions")
    op.drop_table("kb_suggestions")
    op.drop_index("ix_kb_questions_status", table_name="kb_questions")
    op.drop_table("kb_questions")
