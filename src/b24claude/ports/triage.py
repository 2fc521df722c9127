"""The triage port: a dialogue's latest classification, as stored with the dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TriageRecord:
    """What the classifier said about a dialogue last time, and what the product decided from it."""

    member_id: str
    dialog_key: str
    type: str
    urgency: str
    sentiment: str
    needs_human: bool  # the model's view, before the abstain threshold
    topic: str
    confidence: float
    abstained: bool  # confidence under the portal's threshold: handed to a human
    model: str
    version: int = 1  # 1 for the first classification of the dialogue, +1 per re-classification
    turns_seen: int = 0  # customer messages the classification covered
    updated_at: float = 0.0


class TriageRepository(Protocol):
    async def get(self, member_id: str, dialog_key: str) -> TriageRecord | None: ...

    async def put(self, record: TriageRecord) -> None:
        """Insert or replace the dialogue's classification."""
        ...
