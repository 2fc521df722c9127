"""SQL implementation of the client-memory port (``b24claude.ports.memory``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import client_facts, dialogue_turns, memory_marks
from b24claude.ports.memory import ClientFact, FactKind, IdleDialogue
from b24claude.ports.store import Turn


def _in(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], column.in_(list(values))) if values else false()


def _fact(row: Any) -> ClientFact:
    return ClientFact(
        id=int(row.id),
        member_id=row.member_id,
        client_key=row.client_key,
        kind=cast(FactKind, row.kind),
        text=row.text,
        source_dialog=row.source_dialog,
        source_seq=int(row.source_seq),
        created_at=float(row.created_at),
        expires_at=float(row.expires_at),
    )


class SqlMemoryRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(
        self, member_id: str, dialog_key: str, facts: Sequence[ClientFact], *, read_seq: int
    ) -> int:
        f = client_facts.c
        added = 0
        async with self._db.write("memory.add") as conn:
            for fact in facts:
                if fact.member_id != member_id:
                    raise ValueError("a fact of another portal")
                same = and_(
                    f.member_id == fact.member_id,
                    f.client_key == fact.client_key,
                    f.kind == fact.kind,
                    f.text == fact.text,
                )
                existing = (await conn.execute(select(f.id, f.expires_at).where(same))).first()
                if existing is not None:
                    if float(existing.expires_at) < fact.expires_at:
                        await conn.execute(
                            update(client_facts)
                            .where(f.id == existing.id)
                            .values(
                                expires_at=fact.expires_at,
                                source_dialog=fact.source_dialog,
                                source_seq=fact.source_seq,
                            )
                        )
                    continue
                await conn.execute(
                    client_facts.insert().values(
                        member_id=fact.member_id,
                        client_key=fact.client_key,
                        kind=fact.kind,
                        text=fact.text,
                        source_dialog=fact.source_dialog,
                        source_seq=fact.source_seq,
                        created_at=fact.created_at,
                        expires_at=fact.expires_at,
                    )
                )
                added += 1
            await self._mark(conn, member_id, dialog_key, read_seq)
        return added

    async def _mark(self, conn: Any, member_id: str, dialog_key: str, read_seq: int) -> None:
        insert = self._db.insert(memory_marks).values(
            member_id=member_id, dialog_key=dialog_key, read_seq=read_seq, updated_at=time.time()
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["member_id", "dialog_key"],
                set_={"read_seq": insert.excluded.read_seq, "updated_at": insert.excluded.updated_at},
            )
        )

    async def recall(
        self, member_id: str, client_keys: Sequence[str], *, now: float, limit: int = 20
    ) -> list[ClientFact]:
        f = client_facts.c
        stmt = (
            select(client_facts)
            .where(f.member_id == member_id, _in(f.client_key, client_keys), f.expires_at > now)
            .order_by(f.created_at.desc(), f.id.desc())
            .limit(limit)
        )
        async with self._db.read("memory.recall") as conn:
            return [_fact(r) for r in (await conn.execute(stmt)).all()]

    async def all_facts(
        self, member_id: str, *, client_key: str | None = None, limit: int = 500
    ) -> list[ClientFact]:
        f = client_facts.c
        stmt = select(client_facts).where(f.member_id == member_id)
        if client_key is not None:
            stmt = stmt.where(f.client_key == client_key)
        stmt = stmt.order_by(f.created_at.desc(), f.id.desc()).limit(limit)
        async with self._db.read("memory.list") as conn:
            return [_fact(r) for r in (await conn.execute(stmt)).all()]

    async def forget(
        self,
        member_id: str,
        *,
        client_keys: Sequence[str] = (),
        dialog_keys: Sequence[str] = (),
        fact_id: int | None = None,
    ) -> int:
        f = client_facts.c
        which = or_(
            _in(f.client_key, client_keys),
            _in(f.source_dialog, dialog_keys),
            f.id == fact_id if fact_id is not None else false(),
        )
        async with self._db.write("memory.forget") as conn:
            result = await conn.execute(delete(client_facts).where(f.member_id == member_id, which))
            if dialog_keys:
                m = memory_marks.c
                await conn.execute(
                    delete(memory_marks).where(m.member_id == member_id, _in(m.dialog_key, dialog_keys))
                )
        return int(result.rowcount or 0)

    async def purge_expired(self, member_id: str, *, now: float) -> int:
        f = client_facts.c
        async with self._db.write("memory.purge") as conn:
            result = await conn.execute(
                delete(client_facts).where(f.member_id == member_id, f.expires_at <= now)
            )
        return int(result.rowcount or 0)

    async def unread_turns(
        self, member_id: str, dialog_key: str, *, after_seq: int, limit: int
    ) -> list[tuple[int, Turn]]:
        t = dialogue_turns.c
        stmt = (
            select(t.seq, t.role, t.text, t.message_id, t.created_at)
            .where(t.member_id == member_id, t.dialog_key == dialog_key, t.seq > after_seq)
            .order_by(t.seq.desc())
            .limit(limit)
        )
        async with self._db.read("memory.unread_turns") as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            (
                int(r.seq),
                Turn(role=r.role, text=r.text, message_id=r.message_id, created_at=float(r.created_at)),
            )
            for r in reversed(rows)
        ]

    async def idle_dialogues(
        self, *, quiet_since: float, not_before: float, limit: int
    ) -> list[IdleDialogue]:
        t, m = dialogue_turns.c, memory_marks.c
        last = (
            select(
                t.member_id,
                t.dialog_key,
                func.max(t.seq).label("last_seq"),
                func.max(t.created_at).label("last_at"),
            )
            .where(t.created_at >= not_before)
            .group_by(t.member_id, t.dialog_key)
            .having(func.max(t.created_at) < quiet_since)
            .subquery()
        )
        read = func.coalesce(m.read_seq, 0)
        stmt = (
            select(
                last.c.member_id, last.c.dialog_key, last.c.last_seq, last.c.last_at, read.label("read_seq")
            )
            .select_from(
                last.outerjoin(
                    memory_marks,
                    and_(m.member_id == last.c.member_id, m.dialog_key == last.c.dialog_key),
                )
            )
            .where(last.c.last_seq > read)
            .order_by(last.c.last_at)
            .limit(limit)
        )
        async with self._db.read("memory.idle") as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            IdleDialogue(r.member_id, r.dialog_key, int(r.last_seq), float(r.last_at), int(r.read_seq))
            for r in rows
        ]
