"""Client memory: facts per client with an expiry and their source, and each dialogue's read mark.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "client_facts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("client_key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_dialog", sa.String(255), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_client_facts_client", "client_facts", ["member_id", "client_key"])
    op.create_index("ix_client_facts_dialog", "client_facts", ["member_id", "source_dialog"])
    op.create_table(
        "memory_marks",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("read_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "dialog_key", name="pk_memory_marks"),
    )


def downgrade() -> None:
    op.drop_table("memory_marks")
    op.drop_index("ix_client_facts_dialog", table_name="client_facts")
    op.drop_index("ix_client_facts_client", table_name="client_facts")
    op.drop_table("client_facts")
