"""Alembic environment for b24claude, async-capable.

Two ways in:

* programmatic — :func:`b24claude.adapters.sql.engine.migrate` opens the transaction itself and hands
  its connection over in ``config.attributes["connection"]``;
* the ``alembic`` command line (for writing new revisions), e.g.
  ``alembic -c src/b24claude/migrations/alembic.ini revision --autogenerate -m "…"``; the URL comes from
  ``-x url=…``, else ``B24C_DATABASE_URL``, else the settings' default.

New revisions on SQLite run in batch mode (copy-and-move), since SQLite's ALTER TABLE is limited.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from b24claude.adapters.sql.engine import make_engine
from b24claude.adapters.sql.tables import is_search_index, metadata

DEFAULT_URL = "sqlite+aiosqlite:///./b24claude.db"

config = context.config
target_metadata = metadata


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("B24C_DATABASE_URL")
        or DEFAULT_URL
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transactional_ddl=True,  # on SQLite too: the caller has opened BEGIN IMMEDIATE
        include_name=lambda name, type_, parent: not is_search_index(name),  # FTS5 / GIN: not Tables
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_in_transaction(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the driver would not begin before DDL
    _run(connection)


async def _run_async(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_in_transaction)
    finally:
        await engine.dispose()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)  # inside the caller's transaction; the caller commits
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    asyncio.run(_run_async(_url()))


if context.is_offline_mode():
    run_offline()
else:
    run_online()
