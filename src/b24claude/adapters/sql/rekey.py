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

from sqlalchemy import ColumnElement, and_, select, tuple_, update

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
    changed_meanwhile: int = 0  # rows written by the service between our read and our update

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def rekey_secrets(db: SqlDatabase, rekey: Rekey, *, batch: int = BATCH) -> RekeyCounts:
    counts = RekeyCounts()
    await _rekey_portals(db, rekey, counts, batch)
    await _rekey_vault(db, rekey, counts, batch)
    return counts


async def _rekey_portals(db: SqlDatabase, rekey: Rekey, counts: RekeyCounts, batch: int) -> None:
    p = portals.c
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
            for row in rows:
                counts.portals_seen += 1
                changes = _changes(row._mapping, PORTAL_SECRETS, rekey)
                if not changes:
                    continue
                where: list[ColumnElement[bool]] = [p.member_id == row.member_id]
                where += [p[name] == row._mapping[name] for name in changes]
                result = await conn.execute(update(portals).where(and_(*where)).values(**changes))
                if result.rowcount:
                    counts.portal_secrets_rewritten += len(changes)
                else:
                    counts.changed_meanwhile += 1
        if len(rows) < batch:
            return
        after = rows[-1].member_id


async def _rekey_vault(db: SqlDatabase, rekey: Rekey, counts: RekeyCounts, batch: int) -> None:
    v = pii_vault.c
    key = tuple_(v.member_id, v.dialog_key, v.placeholder)
    after: tuple[str, str, str] | None = None
    while True:
        async with db.write("rekey.vault") as conn:
            stmt = select(v.member_id, v.dialog_key, v.placeholder, v.value)
            if after is not None:
                stmt = stmt.where(key > tuple_(*after))
            stmt = stmt.order_by(v.member_id, v.dialog_key, v.placeholder).limit(batch)
            rows = (await conn.execute(stmt)).all()
            for row in rows:
                counts.vault_seen += 1
                changes = _changes(row._mapping, ("value",), rekey)
                if not changes:
                    continue
                result = await conn.execute(
                    update(pii_vault)
                    .where(
                        v.member_id == row.member_id,
                        v.dialog_key == row.dialog_key,
                        v.placeholder == row.placeholder,
                        v.value == row.value,
                    )
                    .values(**changes)
                )
                if result.rowcount:
                    counts.vault_values_rewritten += 1
                else:
                    counts.changed_meanwhile += 1
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
