"""The initial schema: inbox, portals, dialogue turns, effects, LLM ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types of tables.py as of this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("dialog_key", sa.String(255), nullable=False, server_default=""),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("not_before", sa.Double(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint("member_id", "key", name="uq_inbox_member_key"),
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])
    op.create_index("ix_inbox_dialog_status_id", "inbox", ["dialog_key", "status", "id"])

    op.create_table(
        "portals",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False, server_default=""),
        sa.Column("client_endpoint", sa.String(512), nullable=False, server_default=""),
        sa.Column("server_endpoint", sa.String(512), nullable=False, server_default=""),
        sa.Column("access_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("refresh_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("expires_at", sa.Double(), nullable=False, server_default="0"),
        sa.Column("webhook", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("application_token", sa.Text(), nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=False, server_default="ru"),
        sa.Column("bot_id", sa.BigInteger(), nullable=True),
        sa.Column("bot_code", sa.String(64), nullable=False, server_default=""),
        sa.Column("bot_api", sa.String(4), nullable=False, server_default="v2"),
        sa.Column("event_offset", sa.BigInteger(), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_portals"),
    )

    op.create_table(
        "dialogue_turns",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_dialogue_turns"),
    )
    op.create_index("ix_dialogue_turns_dialog_seq", "dialogue_turns", ["member_id", "dialog_key", "seq"])
    op.create_index(
        "uq_dialogue_turns_message",
        "dialogue_turns",
        ["member_id", "dialog_key", "message_id", "role"],
        unique=True,
        sqlite_where=sa.text("message_id IS NOT NULL"),
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )

    op.create_table(
        "effects",
        sa.Column("inbox_id", ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("inbox_id", "kind", name="pk_effects"),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name="fk_effects_inbox_id_inbox", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "llm_ledger",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("feature", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Double(), nullable=False),
        sa.Column("latency_s", sa.Double(), nullable=False),
        sa.Column("dialog_key", sa.String(255), nullable=False, server_default=""),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("inbox_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_llm_ledger"),
    )
    op.create_index("ix_llm_ledger_member_created", "llm_ledger", ["member_id", "created_at"])


def downgrade() -> None:
    op.drop_table("llm_ledger")
    op.drop_table("effects")
    op.drop_table("dialogue_turns")
    op.drop_table("portals")
    op.drop_table("inbox")
