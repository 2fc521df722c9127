"""Usage ports: views over the LLM ledger (spend per portal, dialogue, feature, model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

LedgerGroup = Literal["member_id", "dialog_key", "feature", "model"]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """Sums over the ledger rows of one group (the key holds the grouped columns' values, in order)."""

    key: tuple[str, ...]
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


class LedgerViews(Protocol):
    async def spent_usd(self, member_id: str, *, since: float) -> float:
        """USD the portal's calls cost since ``since`` (a UNIX time)."""
        ...

    async def breakdown(
        self,
        *,
        by: Sequence[LedgerGroup],
        member_id: str | None = None,
        since: float = 0.0,
        limit: int = 100,
    ) -> list[LedgerLine]:
        """Sums grouped by the given columns, costliest first (one portal, or all)."""
        ...
