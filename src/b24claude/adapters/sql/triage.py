"""The SQL triage repository: one row per dialogue, replaced on re-classification."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import dialogue_triage
from b24claude.ports.triage import TriageRecord


class SqlTriageRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def get(self, member_id: str, dialog_key: str) -> TriageRecord | None:
        t = dialogue_triage.c
        stmt = select(dialogue_triage).where(t.member_id == member_id, t.dialog_key == dialog_key)
        async with self._db.read("triage.get") as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["needs_human"] = bool(values["needs_human"])
        values["abstained"] = bool(values["abstained"])
        return TriageRecord(**values)

    async def put(self, record: TriageRecord) -> None:
        values = asdict(record)
        insert = self._db.insert(dialogue_triage).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=["member_id", "dialog_key"],
            set_={k: insert.excluded[k] for k in values if k not in ("member_id", "dialog_key")},
        )
        async with self._db.write("triage.put") as conn:
            await conn.execute(stmt)
