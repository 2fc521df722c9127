"""The durable store on SQLAlchemy 2 (async): SQLite (WAL) by default, PostgreSQL for scale.

Build it with :meth:`SqlStore.open` (migrates to head) and close it with :meth:`SqlStore.close`;
the repositories implement the Protocols of :mod:`b24claude.ports.store`.
"""

from b24claude.adapters.sql.codec import IdentityCodec, SecretsCodec
from b24claude.adapters.sql.engine import SqlDatabase, make_engine, migrate, probe, sqlite_file
from b24claude.adapters.sql.privacy import plain_digest
from b24claude.adapters.sql.repositories import (
    SqlDialogueRepository,
    SqlEffectRepository,
    SqlInboxRepository,
    SqlLedgerRepository,
    SqlPortalRepository,
    SqlStore,
)

__all__ = [
    "IdentityCodec",
    "SecretsCodec",
    "SqlDatabase",
    "SqlDialogueRepository",
    "SqlEffectRepository",
    "SqlInboxRepository",
    "SqlLedgerRepository",
    "SqlPortalRepository",
    "SqlStore",
    "make_engine",
    "migrate",
    "plain_digest",
    "probe",
    "sqlite_file",
]
