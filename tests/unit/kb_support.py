"""A knowledge base over an in-memory SQLite store, wired as bootstrap wires it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from b24claude.adapters.sql import SqlStore
from b24claude.bootstrap import KnowledgeParts, knowledge_parts
from b24claude.kit.clock import SystemClock
from b24claude.settings import Settings


@asynccontextmanager
async def open_kb(
    url: str = "sqlite+aiosqlite:///:memory:", **settings: object
) -> AsyncIterator[KnowledgeParts]:
    store = await SqlStore.open(url)
    try:
        parts = knowledge_parts(Settings(_env_file=None, **settings), store, SystemClock())  # type: ignore[arg-type]
        try:
            yield parts
        finally:
            await parts.aclose()
    finally:
        await store.close()
