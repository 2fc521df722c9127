"""The SQL supervision repository: drafts held for approval (one per customer message), ratings, flags.

A decision is a conditional update (``WHERE status = 'pending' OR decided_row = :row``): of two operators
pressing "approve" at once, or of a press delivered twice, exactly one row owns the decision and sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import or_, select, update

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import bot_commands, supervision_drafts, supervision_feedback
from b24claude.ports.supervision import Decision, Draft, Feedback, NewDraft

_DRAFT_FIELDS = {f.name for f in fields(Draft)}


def _draft(row: Any) -> Draft:
    values = {k: v for k, v in dict(row._mapping).items() if k in _DRAFT_FIELDS}
    values["citations"] = tuple(values.get("citations") or ())
    return Draft(**values)


class SqlSupervisionRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add_draft(self, draft: NewDraft) -> Draft:
        values = asdict(draft)
        values["citations"] = list(draft.citations)
        values["status"] = "pending"
        insert = self._db.insert(supervision_drafts).values(values)
        stmt = insert.on_conflict_do_nothing(index_elements=["member_id", "inbox_id"])
        d = supervision_drafts.c
        async with self._db.write("supervision.add_draft") as conn:
            await conn.execute(stmt)
            row = (
                await conn.execute(
                    select(supervision_drafts).where(
                        d.member_id == draft.member_id, d.inbox_id == draft.inbox_id
                    )
                )
            ).first()
        assert row is not None
        return _draft(row)

    async def get_draft(self, member_id: str, draft_id: int) -> Draft | None:
        d = supervision_drafts.c
        async with self._db.read("supervision.get_draft") as conn:
            row = (
                await conn.execute(
                    select(supervision_drafts).where(d.member_id == member_id, d.id == draft_id)
                )
            ).first()
        return _draft(row) if row is not None else None

    async def decide(
        self, member_id: str, draft_id: int, *, status: Decision, final: str, by: int, row: int, now: float
    ) -> bool:
        d = supervision_drafts.c
        stmt = (
            update(supervision_drafts)
            .where(
                d.member_id == member_id,
                d.id == draft_id,
                or_(d.status == "pending", d.decided_row == row),
            )
            .values(status=status, final=final, decided_by=by, decided_row=row, decided_at=now)
        )
        async with self._db.write("supervision.decide") as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def mark_sent(self, member_id: str, draft_id: int, *, message_id: int | None, now: float) -> None:
        d = supervision_drafts.c
        stmt = (
            update(supervision_drafts)
            .where(d.member_id == member_id, d.id == draft_id)
            .values(message_id=message_id, sent_at=now)
        )
        async with self._db.write("supervision.mark_sent") as conn:
            await conn.execute(stmt)

    async def examples(self, member_id: str, *, limit: int = 20) -> Sequence[Draft]:
        d = supervision_drafts.c
        stmt = (
            select(supervision_drafts)
            .where(d.member_id == member_id, d.status == "edited")
            .order_by(d.decided_at.desc(), d.id.desc())
            .limit(limit)
        )
        async with self._db.read("supervision.examples") as conn:
            return [_draft(r) for r in (await conn.execute(stmt)).all()]

    async def add_feedback(self, feedback: Feedback) -> None:
        values = {k: v for k, v in asdict(feedback).items() if k != "id"}
        insert = self._db.insert(supervision_feedback).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=["member_id", "kind", "target", "user_id"],
            set_={k: insert.excluded[k] for k in ("score", "note", "created_at")},
        )
        async with self._db.write("supervision.add_feedback") as conn:
            await conn.execute(stmt)

    async def feedback(self, member_id: str, *, kind: str | None = None) -> Sequence[Feedback]:
        f = supervision_feedback.c
        stmt = select(supervision_feedback).where(f.member_id == member_id).order_by(f.id)
        if kind is not None:
            stmt = stmt.where(f.kind == kind)
        async with self._db.read("supervision.feedback") as conn:
            return [Feedback(**dict(r._mapping)) for r in (await conn.execute(stmt)).all()]


class SqlBotCommandRepository:
    """The commands registered with each bot (``ports.store.BotCommandRepository``)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def registered(self, member_id: str, bot_id: int) -> Mapping[str, int]:
        c = bot_commands.c
        stmt = select(c.name, c.command_id).where(c.member_id == member_id, c.bot_id == bot_id)
        async with self._db.read("bot_commands.registered") as conn:
            rows = (await conn.execute(stmt)).all()
        return {str(row.name): int(row.command_id) for row in rows}

    async def add(self, member_id: str, bot_id: int, name: str, command_id: int) -> None:
        values = {"member_id": member_id, "bot_id": bot_id, "name": name, "command_id": command_id}
        stmt = self._db.insert(bot_commands).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["member_id", "bot_id", "name"], set_={"command_id": stmt.excluded.command_id}
        )
        async with self._db.write("bot_commands.add") as conn:
            await conn.execute(stmt)
