"""Views over ``llm_ledger``: spend since a time, sums grouped by portal, dialogue, feature, model."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import desc, func, select

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import llm_ledger
from b24claude.ports.usage import LedgerGroup, LedgerLine

_SUMS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_GROUPS: frozenset[str] = frozenset({"member_id", "dialog_key", "feature", "model"})


class SqlLedgerViews:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def spent_usd(self, member_id: str, *, since: float) -> float:
        c = llm_ledger.c
        stmt = select(func.coalesce(func.sum(c.cost_usd), 0.0)).where(
            c.member_id == member_id, c.created_at >= since
        )
        async with self._db.read("ledger.spent") as conn:
            return float((await conn.execute(stmt)).scalar_one())

    async def breakdown(
        self,
        *,
        by: Sequence[LedgerGroup],
        member_id: str | None = None,
        since: float = 0.0,
        limit: int = 100,
    ) -> list[LedgerLine]:
        if not by or any(g not in _GROUPS for g in by):
            raise ValueError(f"group by one or more of {sorted(_GROUPS)}")
        c = llm_ledger.c
        keys = [c[g] for g in by]
        cost = func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd")
        stmt = (
            select(
                *keys,
                func.count().label("calls"),
                *(func.coalesce(func.sum(c[name]), 0).label(name) for name in _SUMS),
                cost,
            )
            .where(c.created_at >= since)
            .group_by(*keys)
            .order_by(desc(cost))
            .limit(limit)
        )
        if member_id is not None:
            stmt = stmt.where(c.member_id == member_id)
        async with self._db.read("ledger.breakdown") as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            LedgerLine(
                key=tuple(str(row._mapping[g]) for g in by),
                calls=int(row.calls),
                cost_usd=float(row.cost_usd),
                **{name: int(row._mapping[name]) for name in _SUMS},
            )
            for row in rows
        ]
