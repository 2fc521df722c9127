"""Re-encrypt every stored secret with the newest key (``b24claude privacy rotate-keys``).

The secrets: ``portals.access_token``, ``refresh_token``, ``application_token`` and
``pii_vault.value``. One pass in batches, each batch one write transaction. Safe beside a running
service: a row is rewritten only if it still holds what was read (compare-and-swap), so a token pair
refreshed meanwhile — already written under the newest key — is never replaced by the old one.
Re-running is harmless: values already under the newest key are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Update, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import pii_vault, portals

Rekey = Callable[[str], "str | None"]
"""The stored form under the newest key, or ``None`` when the value needs no change."""

PORTAL_SECRETS = ("access_token", "refresh_token", "application_token")
BATCH = 500


@dataclass
class RekeyCounts:
    portals_seen: int = 0
    portal_secrets_rewritten: int = 0
    vault_seen: int = 0
    vault_values_rewritten: int = 0
    # Rows the service rewrote between our read and our update (already under the newest key);
    # counted where the driver reports executemany row counts (SQLite; not asyncpg).
    changed_meanwhile: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def rekey_secrets(db: SqlDatabase, rekey: Rekey, *, batch: int = BATCH) -> RekeyCounts:
    counts = RekeyCounts()
    await _rekey_portals(db, rekey, counts, batch)
    await _rekey_vault(db, rekey, counts, batch)
    return counts


async def _update_many(
    conn: AsyncConnection, stmt: Update, params: list[dict[str, Any]], sane_rowcount: bool
) -> int:
    """Run the compare-and-swap UPDATE for each row of ``params``; how many rows it changed (on a
    driver without a reliable executemany rowcount — asyncpg — every row is taken as changed)."""
    if not params:
        return 0
    result = await conn.execute(stmt, params)
    return int(result.rowcount) if sane_rowcount and result.rowcount >= 0 else len(params)


async def _rekey_portals(db: SqlDatabase, rekey: Rekey, counts: RekeyCounts, batch: int) -> None:
    p = portals.c
    sane = db.engine.dialect.supports_sane_multi_rowcount
    after = ""
    while True:
        async with db.write("rekey.portals") as conn:
            stmt = (
                select(p.member_id, *(p[name] for name in PORTAL_SECRETS))
                .where(p.member_id > after)
                .order_by(p.member_id)
                .limit(batch)
            )
            rows = (await conn.execute(stmt)).all()
            # One statement per set of changed columns (a portal may hold an empty token).
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                counts.portals_seen += 1
                changes = _changes(row._mapping, PORTAL_SECRETS, rekey)
                if changes:
                    params = {"b_member_id": row.member_id}
                    for name, new in changes.items():
                        params[f"b_old_{name}"] = row._mapping[name]
                        params[f"b_new_{name}"] = new
                    groups.setdefault(tuple(changes), []).append(params)
            for names, params_list in groups.items():
                update_stmt = (
                    update(portals)
                    .where(p.member_id == bindparam("b_member_id"))
                    .where(*(p[name] == bindparam(f"b_old_{name}") for name in names))
                    .values({name: bindparam(f"b_new_{name}") for name in names})
                )
                done = await _update_many(conn, update_stmt, params_list, sane)
                counts.portal_secrets_rewritten += done * len(names)
                counts.changed_meanwhile += len(params_list) - done
        if len(rows) < batch:
            return
        after = rows[-1].member_id


async def _rekey_vault(db: SqlDatabase, rekey: Rekey, counts: RekeyCounts, batch: int) -> None:
    v = pii_vault.c
    sane = db.engine.dialect.supports_sane_multi_rowcount
    key = tuple_(v.member_id, v.dialog_key, v.placeholder)
    update_stmt = (
        update(pii_vault)
        .where(
            v.member_id == bindparam("b_member_id"),
            v.dialog_key == bindparam("b_dialog_key"),
            v.placeholder == bindparam("b_placeholder"),
            v.value == bindparam("b_old"),
        )
        .values(value=bindparam("b_new"))
    )
    after: tuple[str, str, str] | None = None
    while True:
        async with db.write("rekey.vault") as conn:
            stmt = select(v.member_id, v.dialog_key, v.placeholder, v.value)
            if after is not None:
                stmt = stmt.where(key > tuple_(*after))
            stmt = stmt.order_by(v.member_id, v.dialog_key, v.placeholder).limit(batch)
            rows = (await conn.execute(stmt)).all()
            params: list[dict[str, Any]] = []
            for row in rows:
                counts.vault_seen += 1
                new = rekey(row.value or "")
                if new is not None:
                    params.append(
                        {
                            "b_member_id": row.member_id,
                            "b_dialog_key": row.dialog_key,
                            "b_placeholder": row.placeholder,
                            "b_old": row.value,
                            "b_new": new,
                        }
                    )
            done = await _update_many(conn, update_stmt, params, sane)
            counts.vault_values_rewritten += done
            counts.changed_meanwhile += len(params) - done
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last.member_id, last.dialog_key, last.placeholder)


def _changes(row: Any, names: tuple[str, ...], rekey: Rekey) -> dict[str, str]:
    changes: dict[str, str] = {}
    for name in names:
        new = rekey(row[name] or "")
        if new is not None:
            changes[name] = new
    return changes


async def sample_secrets(db: SqlDatabase) -> list[str]:
    """A few stored secrets (one portal's, one vault value): the start-up check that the configured
    keys open what the database holds."""
    p, v = portals.c, pii_vault.c
    async with db.read("rekey.sample") as conn:
        portal = (
            await conn.execute(
                select(p.access_token, p.refresh_token, p.application_token)
                .where(p.application_token != "")
                .order_by(p.updated_at.desc())
                .limit(1)
            )
        ).first()
        value = (await conn.execute(select(v.value).limit(1))).scalar_one_or_none()
    found = [str(s) for s in (portal or ()) if s]
    if value:
        found.append(str(value))
    return found
