"""The SQL store against a real PostgreSQL: the behaviour tests of ``tests/unit/test_sql_store.py``
with ``backend`` parametrised to "postgres", plus what only PostgreSQL has (row locks, SKIP LOCKED).

The server is ``B24C_TEST_PG_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``);
each session creates a fresh database next to it, migrates it from scratch and drops it at the end.
Without a server these tests skip locally and FAIL under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24claude.adapters.sql import SqlStore, make_engine, migrate
from b24claude.adapters.sql.engine import alembic_config
from b24claude.adapters.sql.tables import metadata
from tests.required import missing

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import test_sql_store as behaviour

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# The shared behaviour tests and the fixtures they use; ``backend`` below picks PostgreSQL.
db_url = behaviour.db_url
store = behaviour.store
globals().update(
    {
        name: test
        for name, test in vars(behaviour).items()
        if name.startswith("test_") and not name.startswith("test_sqlite_")
    }
)
item = behaviour.item


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


async def _admin(server_url: str, sql: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_db_url() -> Iterator[str]:
    server_url = os.environ.get("B24C_TEST_PG_URL", DEFAULT_PG_URL)
    database = f"b24c_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{database}"'))
    except Exception as exc:  # any failure to reach or use the server
        shown = make_url(server_url).render_as_string(hide_password=True)
        missing(f"PostgreSQL at {shown} is not usable ({type(exc).__name__}: {exc}); set B24C_TEST_PG_URL")
    url = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    try:
        asyncio.run(migrate(url))  # from scratch, on an empty database
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


# --- PostgreSQL only ------------------------------------------------------------------------------


async def test_claim_skips_rows_locked_by_another_worker(store: SqlStore) -> None:
    """A row another transaction holds (a worker mid-claim) is skipped, not waited for — and the
    later rows of its dialogue are not claimed around it."""
    await store.inbox.add_many([item("a1", "A"), item("a2", "A"), item("b1", "B"), item("x1")])
    other_worker = create_async_engine(store.engine.url)
    try:
        async with other_worker.begin() as conn:
            await conn.execute(text("SELECT id FROM inbox WHERE key = 'b1' FOR UPDATE"))
            claimed = await asyncio.wait_for(store.inbox.claim(limit=10, now=0.0), timeout=5)
            assert [i.key for i in claimed] == ["a1", "x1"]
        assert [i.key for i in await store.inbox.claim(limit=10, now=0.0)] == ["b1"]
    finally:
        await other_worker.dispose()


async def test_migrate_from_scratch_in_a_fresh_schema(store: SqlStore, postgres_db_url: str) -> None:
    schema = f"fresh_{uuid.uuid4().hex[:8]}"
    async with store.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(postgres_db_url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await migrate(engine)
        await migrate(engine)  # a no-op at head
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            tables = (
                await conn.execute(
                    text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                    {"s": schema},
                )
            ).scalars()
            found = set(tables)
    finally:
        await engine.dispose()
        async with store.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    # Whatever the newest migration and the tables declared in tables.py are (not a copy of them).
    assert versions == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
    assert found == {*metadata.tables, "alembic_version"}
