"""The schema, as SQLAlchemy Core tables.

This module is the target of Alembic's autogenerate; the migrations in ``b24claude/migrations`` are
the source of truth for what a database actually holds, and a test checks that the two agree.

Times are unix seconds as double precision (``time.time()``), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

# Stable constraint names, so later migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias); PostgreSQL gets a bigint.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("dialog_key", String(255), nullable=False, server_default=""),
    Column("received_at", Double, nullable=False),
    Column("not_before", Double, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("updated_at", Double, nullable=False),
    # --- leases and priorities (migration 0004) ---
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("lease_until", Double, nullable=False, server_default="0"),
    Column("announced_at", Double, nullable=False, server_default="0"),
    UniqueConstraint("member_id", "key", name="uq_inbox_member_key"),
    # claim(): the due pending rows, oldest first
    Index("ix_inbox_status_id", "status", "id"),
    # claim(): "is this dialogue busy / is there an older pending row of it"
    Index("ix_inbox_dialog_status_id", "dialog_key", "status", "id"),
)

portals = Table(
    "portals",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False, server_default=""),
    Column("client_endpoint", String(512), nullable=False, server_default=""),
    Column("server_endpoint", String(512), nullable=False, server_default=""),
    # Secrets go through SqlPortalRepository's secrets codec (identity today; Fernet later).
    Column("access_token", Text, nullable=False, server_default=""),
    Column("refresh_token", Text, nullable=False, server_default=""),
    Column("expires_at", Double, nullable=False, server_default="0"),
    Column("webhook", Boolean, nullable=False, server_default=text("false")),
    Column("application_token", Text, nullable=False, server_default=""),
    Column("language", String(8), nullable=False, server_default="ru"),
    Column("bot_id", BigInteger, nullable=True),
    Column("bot_code", String(64), nullable=False, server_default=""),
    Column("bot_api", String(4), nullable=False, server_default="v2"),
    Column("event_offset", BigInteger, nullable=True),
    Column("installed", Boolean, nullable=False, server_default=text("true")),
    Column("settings", Json, nullable=False),
    Column("updated_at", Double, nullable=False),
)

dialogue_turns = Table(
    "dialogue_turns",
    metadata,
    # A global sequence orders the turns of every dialogue; no per-dialogue counter to race on.
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("message_id", BigInteger, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("citations", Json, nullable=True),  # knowledge sources an answer cites (migration 0003)
    Index("ix_dialogue_turns_dialog_seq", "member_id", "dialog_key", "seq"),
    # The same Bitrix24 message recorded twice (a replayed inbox row) must stay one turn.
    Index(
        "uq_dialogue_turns_message",
        "member_id",
        "dialog_key",
        "message_id",
        "role",
        unique=True,
        sqlite_where=text("message_id IS NOT NULL"),
        postgresql_where=text("message_id IS NOT NULL"),
    ),
)

effects = Table(
    "effects",
    metadata,
    Column("inbox_id", Id, ForeignKey("inbox.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", Json, nullable=False),
    Column("result", Json, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("inbox_id", "kind", name="pk_effects"),
)

llm_ledger = Table(
    "llm_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("feature", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_creation_input_tokens", BigInteger, nullable=False),
    Column("cache_read_input_tokens", BigInteger, nullable=False),
    Column("cost_usd", Double, nullable=False),
    Column("latency_s", Double, nullable=False),
    Column("dialog_key", String(255), nullable=False, server_default=""),
    Column("request_id", String(128), nullable=True),
    Column("inbox_id", BigInteger, nullable=True),  # no FK: the ledger outlives inbox retention
    Column("created_at", Double, nullable=False),
    Index("ix_llm_ledger_member_created", "member_id", "created_at"),
)

# --- privacy (migration 0002) -----------------------------------------------------------------------

pii_vault = Table(
    "pii_vault",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("placeholder", String(64), nullable=False),
    Column("pii_type", String(16), nullable=False),
    # The real value through the secrets codec (Fernet when keys are configured).
    Column("value", Text, nullable=False),
    # Keyed digest of the normalised value ("" when the type is not searchable).
    Column("digest", String(64), nullable=False, server_default=""),
    Column("seq", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "dialog_key", "placeholder", name="pk_pii_vault"),
    Index("ix_pii_vault_member_digest", "member_id", "digest"),
)

dialogue_subjects = Table(
    "dialogue_subjects",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("author_id", BigInteger, nullable=False, server_default="0"),
    Column("contact_id", BigInteger, nullable=True),
    Column("lead_id", BigInteger, nullable=True),
    Column("company_id", BigInteger, nullable=True),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "dialog_key", name="pk_dialogue_subjects"),
    Index("ix_dialogue_subjects_contact", "member_id", "contact_id"),
    Index("ix_dialogue_subjects_author", "member_id", "author_id"),
)

client_consents = Table(
    "client_consents",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("client_key", String(128), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", String(64), nullable=False, server_default=""),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "client_key", name="pk_client_consents"),
)

# Client memory (migration 0005): durable facts per client, and how far each dialogue has been read.
client_facts = Table(
    "client_facts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("client_key", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("source_dialog", String(255), nullable=False),
    Column("source_seq", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("ix_client_facts_client", "member_id", "client_key"),
    Index("ix_client_facts_dialog", "member_id", "source_dialog"),
)

memory_marks = Table(
    "memory_marks",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("read_seq", BigInteger, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "dialog_key", name="pk_memory_marks"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("subject", String(128), nullable=False, server_default=""),
    Column("details", Json, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_audit_log_member_created", "member_id", "created_at"),
)

# --- knowledge base -------------------------------------------------------------------------------

kb_documents = Table(
    "kb_documents",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("key", String(1024), nullable=False),
    Column("name", String(255), nullable=False),
    Column("format", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "key", name="pk_kb_documents"),
)

kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("document_key", String(1024), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("source", String(1024), nullable=False),
    Column("headings", Json, nullable=False),
    Column("text", Text, nullable=False),
    Column("lemmas", Text, nullable=False),
    Column("heading_lemmas", Text, nullable=False, server_default=""),
    Column("vector", LargeBinary, nullable=False),
    Index("ix_kb_chunks_member_document", "member_id", "document_key"),
)

# Bumped in the same transaction as every change of a portal's base: caches (vectors, vocabulary)
# key on it, so a search never mixes an old version of a document with a new one.
kb_generations = Table(
    "kb_generations",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# SQLite: the FTS5 index ``kb_fts`` over kb_chunks (external content, kept by triggers), created by
# migration 0003; PostgreSQL: a GIN index on to_tsvector('simple', …). Neither is a Table here.
SEARCH_INDEX_PREFIX = "kb_fts"


def is_search_index(name: str | None) -> bool:
    """FTS5's virtual table and its shadow tables, which autogenerate must not compare."""
    return bool(name) and str(name).startswith(SEARCH_INDEX_PREFIX)

# --- conversation intelligence: triage (migration 0005_triage) -------------------------------------

# The latest classification of a dialogue (type, urgency, sentiment...); one row per dialogue, replaced
# when the dialogue turns. Labels only: no message text.
dialogue_triage = Table(
    "dialogue_triage",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("sentiment", String(16), nullable=False),
    Column("needs_human", Boolean, nullable=False),
    Column("topic", String(255), nullable=False, server_default=""),
    Column("confidence", Double, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("model", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("turns_seen", Integer, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("member_id", "dialog_key", name="pk_dialogue_triage"),
)


# Supervision (migration 0007): answers held for an operator's approval, customers' ratings, flags.
supervision_drafts = Table(
    "supervision_drafts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("inbox_id", BigInteger, nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("dialog_id", String(64), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("bot_id", BigInteger, nullable=False),
    Column("bot_api", String(8), nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("language", String(8), nullable=False),
    Column("question", Text, nullable=False),
    Column("draft", Text, nullable=False),
    Column("citations", Json, nullable=False),
    Column("status", String(16), nullable=False),
    Column("final", Text, nullable=False, server_default=""),
    Column("decided_by", BigInteger, nullable=False, server_default="0"),
    Column("decided_row", BigInteger, nullable=False, server_default="0"),
    Column("decided_at", Double, nullable=True),
    Column("message_id", BigInteger, nullable=True),
    Column("sent_at", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("member_id", "inbox_id", name="uq_supervision_drafts_row"),
    Index("ix_supervision_drafts_status", "member_id", "status"),
)

supervision_feedback = Table(
    "supervision_feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("target", String(64), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("score", Integer, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("member_id", "kind", "target", "user_id", name="uq_supervision_feedback_once"),
)

bot_commands = Table(
    "bot_commands",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("bot_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("command_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("member_id", "bot_id", "name", name="pk_bot_commands"),
)

# --- the knowledge loop: unanswered questions and FAQ suggestions (migration 0007_kb_suggestions) ----

# A customer question the base could not answer (masked text: placeholders, never a phone), and what
# the operator replied once the dialogue was theirs (read back from the chat).
kb_questions = Table(
    "kb_questions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("dialog_key", String(255), nullable=False),
    Column("dialog_id", String(64), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("author_id", BigInteger, nullable=False),
    Column("bot_id", BigInteger, nullable=False),
    Column("bot_api", String(8), nullable=False),
    Column("question", Text, nullable=False),
    Column("language", String(8), nullable=False, server_default="ru"),
    Column("answer", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="open"),  # open | resolved | suggested
    Column("suggestion_id", BigInteger, nullable=True),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("member_id", "dialog_key", "message_id", name="uq_kb_questions_message"),
    Index("ix_kb_questions_status", "member_id", "status"),
)

# A cluster of such questions with the operators' answer: an FAQ entry the admin approves or rejects.
kb_suggestions = Table(
    "kb_suggestions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("lemmas", Text, nullable=False),
    Column("questions", Integer, nullable=False, server_default="1"),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | approved | rejected
    Column("source", String(255), nullable=False, server_default=""),  # the FAQ entry once approved
    Column("created_at", Double, nullable=False),
    Column("decided_at", Double, nullable=True),
    Index("ix_kb_suggestions_status", "member_id", "status"),
)
