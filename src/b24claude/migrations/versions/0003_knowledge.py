"""Knowledge base: documents, chunks with lemmas and vectors, generations; FTS5 (SQLite) or GIN (PG).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# unicode61 folds case; lemmas are already lower-case with ё → е. Triggers keep the external-content
# index in step with kb_chunks inside the writer's transaction.
_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5(heading_lemmas, lemmas, content='kb_chunks', "
    "content_rowid='id', tokenize=\"unicode61 remove_diacritics 0 tokenchars '-'\")",
    "CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_chunks BEGIN "
    "INSERT INTO kb_fts(rowid, heading_lemmas, lemmas) VALUES (new.id, new.heading_lemmas, new.lemmas); END",
    "CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_chunks BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, heading_lemmas, lemmas) "
    "VALUES ('delete', old.id, old.heading_lemmas, old.lemmas); END",
]


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "key", name="pk_kb_documents"),
    )
    op.create_table(
        "kb_chunks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("document_key", sa.String(1024), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("headings", JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lemmas", sa.Text(), nullable=False),
        sa.Column("heading_lemmas", sa.Text(), nullable=False, server_default=""),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_chunks"),
    )
    op.create_index("ix_kb_chunks_member_document", "kb_chunks", ["member_id", "document_key"])
    op.create_table(
        "kb_generations",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_kb_generations"),
    )
    with op.batch_alter_table("dialogue_turns") as batch:
        batch.add_column(sa.Column("citations", JSON, nullable=True))
    if op.get_context().dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX kb_fts_gin ON kb_chunks USING gin "
            "(to_tsvector('simple', heading_lemmas || ' ' || lemmas))"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS kb_fts_ad")
        op.execute("DROP TRIGGER IF EXISTS kb_fts_ai")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    with op.batch_alter_table("dialogue_turns") as batch:
        batch.drop_column("citations")
    op.drop_table("kb_generations")
    op.drop_index("ix_kb_chunks_member_document", table_name="kb_chunks")
    op.drop_table("kb_chunks")
    op.drop_table("kb_documents")
