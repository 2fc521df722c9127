"""Engines and migrations for the SQL store (SQLite by default, PostgreSQL for scale).

SQLite notes (why the connect/begin hooks exist):

* WAL lets readers run while one writer commits; ``synchronous=NORMAL`` in WAL mode survives a killed
  process (a commit is in the WAL before ``commit()`` returns) and loses at most the last commits on a
  power cut — the usual trade for an event inbox that must answer in milliseconds.
* Python's ``sqlite3`` (3.11) issues its own deferred ``BEGIN`` only before DML. We switch that off and
  emit ``BEGIN`` ourselves, ``BEGIN IMMEDIATE`` for writers (execution option :data:`BEGIN_OPTION`), so
  a read-then-write transaction holds the write lock from its first statement and can never fail with
  ``SQLITE_BUSY_SNAPSHOT`` half-way; DDL in migrations becomes transactional too.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from b24claude.errors import StorageError

#: Execution option read by the SQLite ``begin`` hook: "IMMEDIATE" takes the write lock at BEGIN.
BEGIN_OPTION = "b24c_sqlite_begin"

SQLITE_BUSY_TIMEOUT_MS = 5000

# Serialises concurrent ``migrate`` calls on PostgreSQL (several processes starting at once).
_PG_MIGRATION_LOCK = 0x6232_3463  # "b24c"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``).

    Bound parameters are hidden from SQLAlchemy's logs and error messages: they carry message text
    and tokens.
    """
    sa_url = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database in (None, "", ":memory:"):
            # One connection, or every connection would see its own empty database.
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_async_engine(sa_url, echo=echo, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(sa_url, echo=echo, **kwargs)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, "")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()  # no ini file: the host application owns logging configuration
    cfg.set_main_option("script_location", str(resources.files("b24claude") / "migrations"))
    if url is not None:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def migrate(target: str | AsyncEngine, *, revision: str = "head") -> None:
    """Bring the database (a URL, or an engine from :func:`make_engine`) to ``revision``.

    Idempotent: at head it changes nothing. Runs in one transaction — BEGIN IMMEDIATE on SQLite, an
    advisory lock on PostgreSQL — so two processes starting together migrate once.
    """
    engine = make_engine(target, poolclass=NullPool) if isinstance(target, str) else target
    cfg = alembic_config()

    def upgrade(sync_conn: Connection) -> None:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    try:
        writer = engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        async with writer.begin() as conn:
            await conn.run_sync(upgrade)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"database migration failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if isinstance(target, str):
            await engine.dispose()
