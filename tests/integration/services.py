"""The real services of the scale-out tests: PostgreSQL, Redis and RabbitMQ on loopback.

Each fixture proves its server usable first. Without one, the tests skip locally and FAIL under
``CI=true`` (``.ci/run`` starts all three), the same rule as ``test_sql_store_postgres.py``.
Every test gets its own PostgreSQL database, Redis key prefix and RabbitMQ queue, so runs never
see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import NoReturn

import aio_pika
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24claude.adapters.sql import migrate
from tests.required import missing

PG_URL = os.environ.get("B24C_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("B24C_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("B24C_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unusable(what: str, exc: BaseException) -> NoReturn:
    missing(f"{what} is not usable ({type(exc).__name__}: {exc}); see tests/integration/services.py")


async def _admin(sql: str) -> None:
    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    database = f"b24c_scale_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{database}"')
    except Exception as exc:
        unusable(f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)}", exc)
    url = make_url(PG_URL).set(database=database).render_as_string(hide_password=False)
    try:
        await migrate(url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        unusable(f"Redis at {REDIS_URL}", exc)
    await client.aclose()
    yield REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"b24c-test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def amqp_url() -> AsyncIterator[str]:
    try:
        conn = await asyncio.wait_for(aio_pika.connect(AMQP_URL), timeout=10)
    except Exception as exc:
        unusable("RabbitMQ at 127.0.0.1:5672", exc)
    await conn.close()
    yield AMQP_URL


@pytest.fixture
async def queue_name(amqp_url: str) -> AsyncIterator[str]:
    """A queue (and exchange) of this test only, deleted afterwards."""
    name = f"b24c-test-{uuid.uuid4().hex[:10]}"
    yield name
    conn = await aio_pika.connect(amqp_url)
    try:
        channel = await conn.channel()
        for queue in (name, f"{name}.dead"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(name)
    finally:
        await conn.close()
