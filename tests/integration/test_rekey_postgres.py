"""Key rotation (``adapters/sql/rekey.py``) on a real PostgreSQL: row-value paging and executemany
updates are dialect-specific. The server as in ``test_sql_store_postgres.py`` (skips locally without
one, fails under ``CI=true``); this module uses a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from b24claude.adapters.crypto import Keyring, new_key
from b24claude.adapters.sql import SqlStore
from b24claude.adapters.sql.rekey import rekey_secrets
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.privacy import VaultEntry
from b24claude.ports.store import Portal
from tests.integration.test_sql_store_postgres import DEFAULT_PG_URL, _admin
from tests.required import missing


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    server_url = os.environ.get("B24C_TEST_PG_URL", DEFAULT_PG_URL)
    database = f"b24c_rekey_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{database}"'))
    except Exception as exc:
        missing(f"PostgreSQL is not usable ({type(exc).__name__}); set B24C_TEST_PG_URL")
    try:
        yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def portal(member: str) -> Portal:
    auth = PortalAuth(member_id=member, client_endpoint="https://p/rest/", access_token=f"a-{member}")
    # An empty refresh token (a webhook-like portal) stays empty and is not counted.
    return Portal(member_id=member, domain="p", auth=auth, application_token=f"app-{member}")


async def test_rotation_on_postgres(pg_url: str) -> None:
    old, new = new_key(), new_key()
    first = Keyring.parse([old], "test")
    store = await SqlStore.open(pg_url, secrets_codec=first.codec, digest=first.digest)
    try:
        for m in ("m1", "m2", "m3"):
            await store.portals.upsert(portal(m))
            await store.vault.add(m, f"{m}:dlg", [VaultEntry("[ТЕЛЕФОН_1]", "phone", f"+7 900 {m}", "7900")])
    finally:
        await store.close()

    both = Keyring.parse([new, old], "test")
    store = await SqlStore.open(pg_url, secrets_codec=both.codec)
    try:
        counts = await rekey_secrets(store.db, both.codec.rekey, batch=2)
        assert (counts.portals_seen, counts.portal_secrets_rewritten) == (3, 6)
        assert (counts.vault_seen, counts.vault_values_rewritten) == (3, 3)
        again = await rekey_secrets(store.db, both.codec.rekey, batch=2)
        assert again.portal_secrets_rewritten == again.vault_values_rewritten == 0
    finally:
        await store.close()

    only_new = Keyring.parse([new], "test")
    store = await SqlStore.open(pg_url, secrets_codec=only_new.codec)
    try:
        for m in ("m1", "m2", "m3"):
            got = await store.portals.get(m)
            assert got is not None
            assert (got.auth.access_token, got.auth.refresh_token, got.application_token) == (
                f"a-{m}",
                "",
                f"app-{m}",
            )
            [entry] = await store.vault.entries(m, f"{m}:dlg")
            assert entry.value == f"+7 900 {m}"
        async with store.engine.connect() as conn:
            raw = (await conn.execute(text("SELECT access_token FROM portals"))).scalars().all()
        assert all(v.startswith("fernet:") for v in raw)
    finally:
        await store.close()
