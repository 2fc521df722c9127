"""Privacy: the per-dialogue PII vault, dialogue subjects, client consents, the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types of tables.py as of this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pii_vault",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("placeholder", sa.String(64), nullable=False),
        sa.Column("pii_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, server_default=""),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "dialog_key", "placeholder", name="pk_pii_vault"),
    )
    op.create_index("ix_pii_vault_member_digest", "pii_vault", ["member_id", "digest"])
    op.create_table(
        "dialogue_subjects",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "dialog_key", name="pk_dialogue_subjects"),
    )
    op.create_index("ix_dialogue_subjects_contact", "dialogue_subjects", ["member_id", "contact_id"])
    op.create_index("ix_dialogue_subjects_author", "dialogue_subjects", ["member_id", "author_id"])
    op.create_table(
        "client_consents",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("client_key", sa.String(128), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "client_key", name="pk_client_consents"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False, server_default=""),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_member_created", "audit_log", ["member_id", "created_at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("client_consents")
    op.drop_table("dialogue_subjects")
    op.drop_table("pii_vault")
