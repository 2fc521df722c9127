"""Engines and migrations for the SQL store (SQLite by default, PostgreSQL for scale).

SQLite notes (why the connect hook exists):

* WAL lets readers run while one writer commits; ``synchronous=NORMAL`` in WAL mode survives a killed
  process (a commit is in the WAL before ``commit()`` returns) and loses at most the last commits on a
  power cut — the usual trade for an event inbox that must answer in milliseconds.
* Python's ``sqlite3`` (3.11, "legacy transaction control") opens a transaction itself right before the
  first INSERT/UPDATE/DELETE; we make that a ``BEGIN IMMEDIATE`` (``isolation_level="IMMEDIATE"``), so a
  writer takes the write lock when its transaction starts and waits up to ``busy_timeout`` for it,
  instead of failing half-way with ``SQLITE_BUSY``. Every write of the store is one DML statement, and
  the driver's implicit BEGIN costs no extra round trip to aiosqlite's thread. SELECTs run outside a
  transaction (each is a consistent snapshot on its own). Migrations issue ``BEGIN IMMEDIATE``
  explicitly, so their DDL is transactional.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from b24claude.errors import ConfigurationError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 5000

# Serialises concurrent ``migrate`` calls on PostgreSQL (several processes starting at once).
_PG_MIGRATION_LOCK = 0x6232_3463  # "b24c"


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``).

    Bound parameters are hidden from SQLAlchemy's logs and error messages: they carry message text
    and tokens.
    """
    try:
        sa_url = make_url(url)
        backend = sa_url.get_backend_name()
    except SQLAlchemyError as exc:
        raise ConfigurationError(f"database URL is not valid: {type(exc).__name__}") from exc
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"unsupported database {backend!r} (sqlite+aiosqlite or postgresql+asyncpg)")
    kwargs.setdefault("hide_parameters", True)
    if backend == "sqlite":
        if sa_url.database in (None, "", ":memory:"):
            # One connection, or every connection would see its own empty database.
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_async_engine(sa_url, echo=echo, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(sa_url, echo=echo, **kwargs)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (relative paths taken from the working directory, as SQLite does);
    ``None`` for an in-memory database or another backend. Raises ConfigurationError for a bad URL."""
    try:
        sa_url = make_url(url)
        backend = sa_url.get_backend_name()
    except SQLAlchemyError as exc:
        raise ConfigurationError(f"database URL is not valid: {type(exc).__name__}") from exc
    if backend != "sqlite" or sa_url.database in (None, "", ":memory:"):
        return None
    database = str(sa_url.database)
    if database.startswith("file:"):  # a SQLite URI filename (uri=true)
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database).expanduser().absolute()


async def probe(url: str, *, timeout_s: float = 5.0) -> None:
    """Connect to ``url`` and run ``SELECT 1`` within ``timeout_s``; StorageError when that fails.

    Creates nothing on a server database; on SQLite it would create the file (the caller checks
    :func:`sqlite_file` first when that matters)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(timeout_s), translated_errors("database probe"), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:
        raise StorageError(f"database probe: no answer within {timeout_s:g} s") from None
    finally:
        await engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"  # see the module docstring
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()  # no ini file: the host application owns logging configuration
    cfg.set_main_option("script_location", str(resources.files("b24claude") / "migrations"))
    return cfg


async def migrate(target: str | AsyncEngine, *, revision: str = "head") -> None:
    """Bring the database (a URL, or an engine from :func:`make_engine`) to ``revision``.

    Idempotent: at head it changes nothing. Runs in one transaction — BEGIN IMMEDIATE on SQLite, an
    advisory lock on PostgreSQL — so two processes starting together migrate once.
    """
    engine = make_engine(target, poolclass=NullPool) if isinstance(target, str) else target
    cfg = alembic_config()

    def upgrade(sync_conn: Connection) -> None:
        if sync_conn.dialect.name == "sqlite":
            sync_conn.exec_driver_sql("BEGIN IMMEDIATE")  # transactional DDL, one migrator at a time
        else:
            sync_conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"database migration failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if isinstance(target, str):
            await engine.dispose()


# --- transactions ---------------------------------------------------------------------------------


@asynccontextmanager
async def translated_errors(operation: str) -> AsyncIterator[None]:
    """SQLAlchemy and driver exceptions become StorageError (ours pass through untouched)."""
    try:
        yield
    except DBAPIError as exc:
        # The driver's own message ("database is locked", "deadlock detected"); never the SQL or
        # its parameters, which carry message text and tokens.
        raise StorageError(f"{operation}: {type(exc.orig).__name__}: {exc.orig}") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"{operation}: {type(exc).__name__}") from exc


class SqlDatabase:
    """The engine plus what every repository shares: transactions, the SQLite writer, dialect inserts.

    SQLite has one writer at a time. Within a process all writes go through one connection, queued on
    an asyncio lock rather than on SQLite's busy handler (which sleeps in millisecond steps and would
    ruin the inbox's tail latency); across processes ``BEGIN IMMEDIATE`` plus ``busy_timeout`` still
    serialise them. PostgreSQL writes use the pool like reads. An in-memory SQLite database has a
    single connection: there reads go through the writer too, or a reader's rollback would undo a
    write in progress.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(f"unsupported database: {self.dialect}")
        self._write_lock = asyncio.Lock()
        self._writer: AsyncConnection | None = None
        self._reads_through_writer = isinstance(engine.pool, StaticPool)

    @asynccontextmanager
    async def write(self, operation: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on exit (rolled back on an exception)."""
        if self.dialect != "sqlite":
            async with translated_errors(operation), self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, translated_errors(operation):
            if self._writer is None:
                self._writer = await self.engine.connect()
            writer = self._writer
            try:
                async with writer.begin():
                    yield writer
            except BaseException:
                # Whatever state a failed or cancelled statement left behind, start afresh next time.
                self._writer = None
                with contextlib.suppress(Exception):
                    await writer.close()
                raise

    @asynccontextmanager
    async def read(self, operation: str) -> AsyncIterator[AsyncConnection]:
        if self._reads_through_writer:
            async with self.write(operation) as conn:
                yield conn
            return
        async with translated_errors(operation), self.engine.connect() as conn:
            yield conn

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """INSERT with this dialect's ON CONFLICT support (the same syntax on SQLite and PostgreSQL)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def close(self) -> None:
        """Release the SQLite writer connection (the engine itself belongs to the caller)."""
        async with self._write_lock:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                await writer.close()
