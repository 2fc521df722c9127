"""The knowledge-base port: passages relevant to a question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    title: str
    text: str
    score: float = 0.0


class KnowledgeSource(Protocol):
    async def search(self, member_id: str, query: str, *, limit: int = 3) -> Sequence[Passage]: ...
