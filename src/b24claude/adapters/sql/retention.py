"""SQL implementation of :class:`b24claude.ports.retention.RetentionStore`: the scheduled purge and the
storage side of erasure and export.

Effects go with their inbox rows: the foreign key cascades (PostgreSQL; SQLite with
``PRAGMA foreign_keys=ON``, set by ``engine.py`` on every connection). Erasure still counts them first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select, tuple_, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import (
    client_consents,
    client_facts,
    dialogue_subjects,
    dialogue_turns,
    effects,
    inbox,
    kb_questions,
    llm_ledger,
    memory_marks,
    pii_vault,
    portals,
    supervision_drafts,
    supervision_feedback,
)
from b24claude.ports.retention import ScanRow, ScanSource, dialogue_key_of, stored_forms
from b24claude.ports.store import InboxItem, InboxStatus, Turn

FINISHED: tuple[str, ...] = ("done", "failed", "ignored")
_LEDGER_TOKENS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class SqlRetentionStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def members(self) -> list[str]:
        tables = (
            portals,
            dialogue_turns,
            inbox,
            llm_ledger,
            pii_vault,
            dialogue_subjects,
            client_consents,
            client_facts,
        )
        stmt = union(*(select(t.c.member_id) for t in tables))
        async with self._db.read("retention.members") as conn:
            members: list[Any] = list((await conn.execute(stmt)).scalars().all())
        return sorted(str(m) for m in members)

    # --- the scheduled purge ----------------------------------------------------------------------

    async def purge_turns(self, member_id: str, *, before: float) -> int:
        """The dialogues' text: their turns, and with them the moderation drafts and the ratings and
        flags of their answers (masked text too, kept no longer than the dialogues)."""
        t, d, f = dialogue_turns.c, supervision_drafts.c, supervision_feedback.c
        stmt = delete(dialogue_turns).where(t.member_id == member_id, t.created_at < float(before))
        async with self._db.write("retention.purge_turns") as conn:
            count = _count(await conn.execute(stmt))
            await conn.execute(
                delete(supervision_drafts).where(
                    d.member_id == member_id, d.created_at < float(before), d.status != "pending"
                )
            )
            await conn.execute(
                delete(supervision_feedback).where(f.member_id == member_id, f.created_at < float(before))
            )
            q = kb_questions.c  # unanswered questions and the operators' replies to them
            await conn.execute(
                delete(kb_questions).where(q.member_id == member_id, q.created_at < float(before))
            )
            return count

    async def purge_inbox(self, member_id: str, *, before: float) -> int:
        i = inbox.c
        stmt = delete(inbox).where(
            i.member_id == member_id, i.status.in_(FINISHED), i.received_at < float(before)
        )
        async with self._db.write("retention.purge_inbox") as conn:
            return _count(await conn.execute(stmt))

    async def purge_ledger(self, member_id: str, *, before: float) -> int:
        c = llm_ledger.c
        stmt = delete(llm_ledger).where(c.member_id == member_id, c.created_at < float(before))
        async with self._db.write("retention.purge_ledger") as conn:
            return _count(await conn.execute(stmt))

    async def delete_orphans(self, member_id: str, *, before: float) -> Mapping[str, int]:
        t = dialogue_turns.c
        v, s = pii_vault.c, dialogue_subjects.c
        vault_stmt = delete(pii_vault).where(
            v.member_id == member_id,
            v.created_at < float(before),
            ~exists().where(t.member_id == v.member_id, t.dialog_key == v.dialog_key),
        )
        subjects_stmt = delete(dialogue_subjects).where(
            s.member_id == member_id,
            s.updated_at < float(before),
            ~exists().where(t.member_id == s.member_id, t.dialog_key == s.dialog_key),
        )
        async with self._db.write("retention.delete_orphans") as conn:
            vault_n = _count(await conn.execute(vault_stmt))
            subjects_n = _count(await conn.execute(subjects_stmt))
        return {"vault": vault_n, "subjects": subjects_n}

    # --- the rights of a person -------------------------------------------------------------------

    async def scan(self, member_id: str, source: ScanSource, *, page: int = 500) -> AsyncIterator[ScanRow]:
        # Keyset pages along the portal's own index, so a page costs the same wherever it starts (an
        # OFFSET, or "id > n" filtered by portal, would re-read the portal's earlier rows each time).
        scan_page = self._turn_page if source == "dialogue_turns" else self._inbox_page
        after: tuple[Any, ...] | None = None
        while True:
            rows, after = await scan_page(member_id, after, page)
            for row in rows:
                yield row
            if len(rows) < page or after is None:
                return

    async def _turn_page(
        self, member_id: str, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[list[ScanRow], tuple[Any, ...] | None]:
        t = dialogue_turns.c  # index ix_dialogue_turns_dialog_seq (member_id, dialog_key, seq)
        stmt = select(t.seq, t.dialog_key, t.text).where(t.member_id == member_id)
        if after is not None:
            stmt = stmt.where(tuple_(t.dialog_key, t.seq) > tuple_(*after))
        stmt = stmt.order_by(t.dialog_key, t.seq).limit(limit)
        async with self._db.read("retention.scan") as conn:
            rows = (await conn.execute(stmt)).all()
        last = (rows[-1].dialog_key, rows[-1].seq) if rows else None
        return [ScanRow("dialogue_turns", int(r.seq), r.dialog_key, r.text) for r in rows], last

    async def _inbox_page(
        self, member_id: str, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[list[ScanRow], tuple[Any, ...] | None]:
        i, e = inbox.c, effects.c  # unique index uq_inbox_member_key (member_id, key)
        stmt = select(i.id, i.key, i.dialog_key, i.payload).where(i.member_id == member_id)
        if after is not None:
            stmt = stmt.where(i.key > after[0])
        stmt = stmt.order_by(i.key).limit(limit)
        async with self._db.read("retention.scan") as conn:
            rows = (await conn.execute(stmt)).all()
            ids = [int(r.id) for r in rows]
            found: dict[int, list[Any]] = {}
            if ids:
                effect_stmt = select(e.inbox_id, e.payload, e.result).where(e.inbox_id.in_(ids))
                for eff in (await conn.execute(effect_stmt)).all():
                    found.setdefault(int(eff.inbox_id), []).append([eff.payload, eff.result])
        scanned = [
            ScanRow(
                "inbox",
                int(r.id),
                dialogue_key_of(member_id, r.dialog_key),
                {"payload": r.payload, "effects": found.get(int(r.id), [])},
            )
            for r in rows
        ]
        return scanned, ((rows[-1].key,) if rows else None)

    async def delete_dialogues(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> Mapping[str, int]:
        keys = [k for k in dict.fromkeys(dialog_keys) if k]
        forms = stored_forms(member_id, keys)
        i, e, t = inbox.c, effects.c, dialogue_turns.c
        v, s = pii_vault.c, dialogue_subjects.c
        counts: dict[str, int] = {}
        async with self._db.write("retention.delete_dialogues") as conn:
            rows = _in(i.dialog_key, forms) if forms else false()
            ids = list(inbox_ids) + list(
                (await conn.execute(select(i.id).where(i.member_id == member_id, rows))).scalars().all()
            )
            ids = sorted({int(x) for x in ids})
            counts["ledger"] = await _anonymise(conn, member_id, keys, ids)
            counts["effects"] = 0
            counts["inbox"] = 0
            if ids:
                # Only the portal's own rows: an id from elsewhere must not reach another portal.
                own = select(i.id).where(i.member_id == member_id, i.id.in_(ids))
                counts["effects"] = int(
                    (await conn.execute(select(func.count()).where(e.inbox_id.in_(own)))).scalar_one()
                )
                await conn.execute(delete(effects).where(e.inbox_id.in_(own)))  # cascade or not
                counts["inbox"] = _count(
                    await conn.execute(delete(inbox).where(i.member_id == member_id, i.id.in_(ids)))
                )
            for kind in ("turns", "vault", "subjects", "memory", "supervision", "kb_questions"):
                counts[kind] = 0
            if keys:
                counts["turns"] = _count(
                    await conn.execute(
                        delete(dialogue_turns).where(t.member_id == member_id, _in(t.dialog_key, keys))
                    )
                )
                counts["vault"] = _count(
                    await conn.execute(
                        delete(pii_vault).where(v.member_id == member_id, _in(v.dialog_key, keys))
                    )
                )
                counts["subjects"] = _count(
                    await conn.execute(
                        delete(dialogue_subjects).where(s.member_id == member_id, _in(s.dialog_key, keys))
                    )
                )
                # Client memory extracted from these dialogues goes with them (and their read marks).
                f, m = client_facts.c, memory_marks.c
                counts["memory"] = _count(
                    await conn.execute(
                        delete(client_facts).where(f.member_id == member_id, _in(f.source_dialog, keys))
                    )
                )
                await conn.execute(
                    delete(memory_marks).where(m.member_id == member_id, _in(m.dialog_key, keys))
                )
                # The knowledge loop's record of their unanswered questions (and the operator's reply).
                kq = kb_questions.c
                counts["kb_questions"] = _count(
                    await conn.execute(
                        delete(kb_questions).where(kq.member_id == member_id, _in(kq.dialog_key, forms))
                    )
                )
                # Moderation drafts of their answers, and the ratings and flags given to them.
                d, fb = supervision_drafts.c, supervision_feedback.c
                counts["supervision"] = _count(
                    await conn.execute(
                        delete(supervision_drafts).where(d.member_id == member_id, _in(d.dialog_key, forms))
                    )
                ) + _count(
                    await conn.execute(
                        delete(supervision_feedback).where(
                            fb.member_id == member_id, _in(fb.dialog_key, forms)
                        )
                    )
                )
        return counts

    async def turns(self, member_id: str, dialog_key: str) -> list[Turn]:
        t = dialogue_turns.c
        stmt = (
            select(t.role, t.text, t.message_id, t.created_at)
            .where(t.member_id == member_id, t.dialog_key == dialog_key)
            .order_by(t.seq)
        )
        async with self._db.read("retention.turns") as conn:
            rows = (await conn.execute(stmt)).all()
        return [Turn(r.role, r.text, r.message_id, float(r.created_at)) for r in rows]

    async def inbox_rows(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> list[InboxItem]:
        i = inbox.c
        wanted = _either(_in(i.dialog_key, stored_forms(member_id, dialog_keys)), _in(i.id, inbox_ids))
        stmt = select(inbox).where(i.member_id == member_id, wanted).order_by(i.id)
        async with self._db.read("retention.inbox_rows") as conn:
            return [_inbox_item(r) for r in (await conn.execute(stmt)).all()]

    async def ledger_summary(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> Mapping[str, float]:
        c = llm_ledger.c
        stmt = select(
            func.count().label("calls"),
            *(func.coalesce(func.sum(c[name]), 0).label(name) for name in _LEDGER_TOKENS),
            func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
        ).where(c.member_id == member_id, _ledger_rows(member_id, dialog_keys, inbox_ids))
        async with self._db.read("retention.ledger_summary") as conn:
            row = (await conn.execute(stmt)).one()
        summary: dict[str, float] = {"calls": int(row.calls)}
        summary.update({name: int(row._mapping[name]) for name in _LEDGER_TOKENS})
        summary["cost_usd"] = float(row.cost_usd)
        return summary


def _inbox_item(row: Any) -> InboxItem:
    return InboxItem(
        id=int(row.id),
        member_id=row.member_id,
        key=row.key,
        kind=row.kind,
        payload=row.payload,
        status=cast(InboxStatus, row.status),
        attempts=int(row.attempts),
        dialog_key=row.dialog_key,
        received_at=float(row.received_at),
        not_before=float(row.not_before),
        last_error=row.last_error,
    )


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _in(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], column.in_(list(values))) if values else false()


def _either(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return or_(*conditions)


def _ledger_rows(member_id: str, dialog_keys: Sequence[str], inbox_ids: Sequence[int]) -> ColumnElement[bool]:
    c = llm_ledger.c
    return and_(
        c.member_id == member_id,
        _either(_in(c.dialog_key, stored_forms(member_id, dialog_keys)), _in(c.inbox_id, inbox_ids)),
    )


async def _anonymise(
    conn: AsyncConnection, member_id: str, dialog_keys: Sequence[str], inbox_ids: Sequence[int]
) -> int:
    if not dialog_keys and not inbox_ids:
        return 0
    stmt = (
        update(llm_ledger)
        .where(_ledger_rows(member_id, dialog_keys, inbox_ids))
        .values(dialog_key="", inbox_id=None)
    )
    return _count(await conn.execute(stmt))
