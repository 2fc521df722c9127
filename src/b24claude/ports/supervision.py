"""The supervision port: answers held for an operator's approval (drafts), customers' ratings and
operators' flags. Texts are stored pseudonymised (placeholders), like the dialogue's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

DraftStatus = Literal["pending", "approved", "edited", "rejected"]
Decision = Literal["approved", "edited", "rejected"]


@dataclass(frozen=True, slots=True)
class NewDraft:
    member_id: str
    inbox_id: int  # the customer's message row: one draft per message
    dialog_key: str
    dialog_id: str
    chat_id: int
    bot_id: int
    bot_api: str
    customer_id: int
    language: str
    question: str  # masked
    draft: str  # masked
    citations: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Draft(NewDraft):
    id: int = 0
    status: DraftStatus = "pending"
    final: str = ""  # masked: what the customer got (the draft, or the operator's edit)
    decided_by: int = 0
    decided_row: int = 0  # the inbox row of the decision (its replay finishes what it started)
    decided_at: float | None = None
    message_id: int | None = None  # the customer's message, once sent
    sent_at: float | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    member_id: str
    kind: Literal["rating", "flag"]
    dialog_key: str
    target: str  # "row:<inbox id>" of the answered message, or "msg:<message id>"
    user_id: int
    score: int = 0  # rating: +1 / -1; flag: -1
    note: str = ""
    created_at: float = 0.0
    id: int = field(default=0, compare=False)


class SupervisionRepository(Protocol):
    async def add_draft(self, draft: NewDraft) -> Draft:
        """Insert the message's draft, or return the one a replay of the row already stored."""
        ...

    async def get_draft(self, member_id: str, draft_id: int) -> Draft | None: ...

    async def decide(
        self, member_id: str, draft_id: int, *, status: Decision, final: str, by: int, row: int, now: float
    ) -> bool:
        """Record the decision if the draft is still pending (or this very row decided it before a crash);
        ``True`` when this row owns the decision, ``False`` when someone else decided first."""
        ...

    async def mark_sent(
        self, member_id: str, draft_id: int, *, message_id: int | None, now: float
    ) -> None: ...

    async def examples(self, member_id: str, *, limit: int = 20) -> Sequence[Draft]:
        """The portal's drafts an operator edited, newest first (the corrections the bot learns from)."""
        ...

    async def add_feedback(self, feedback: Feedback) -> None:
        """Store a rating or a flag; the same person rating the same answer again replaces their rating."""
        ...

    async def feedback(self, member_id: str, *, kind: str | None = None) -> Sequence[Feedback]: ...
