"""Client memory: durable facts about a client, kept between dialogues, each with an expiry and its source.

A fact is keyed by the client, not the dialogue: ``"contact:<id>"`` when the dialogue is bound to a CRM
contact, else ``"user:<chat user id>"`` (the same keys as consents). Facts hold no personal data values:
they are extracted from the masked dialogue, and a fact that still carries a placeholder is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from b24claude.ports.store import Turn

FactKind = Literal["device", "preference", "problem", "other"]
FACT_KINDS: tuple[FactKind, ...] = ("device", "preference", "problem", "other")


@dataclass(frozen=True, slots=True)
class ClientFact:
    member_id: str
    client_key: str
    kind: FactKind
    text: str
    source_dialog: str  # the dialogue the fact was extracted from
    source_seq: int  # the newest turn it was extracted from
    created_at: float
    expires_at: float
    id: int | None = None


@dataclass(frozen=True, slots=True)
class IdleDialogue:
    """A dialogue with turns the memory has not read yet, quiet since ``last_at``."""

    member_id: str
    dialog_key: str
    last_seq: int
    last_at: float
    read_seq: int  # turns up to this seq were already read (0: none)


class MemoryRepository(Protocol):
    async def add(
        self, member_id: str, dialog_key: str, facts: Sequence[ClientFact], *, read_seq: int
    ) -> int:
        """Store new facts (none is fine) and move the dialogue's read mark to ``read_seq`` in one transaction, so a
        crash between the two never extracts the same turns twice; a fact already held for the client
        (same kind and text) only gets the later expiry. Returns how many facts were added."""
        ...

    async def recall(
        self, member_id: str, client_keys: Sequence[str], *, now: float, limit: int = 20
    ) -> list[ClientFact]:
        """The client's facts that have not expired, newest first."""
        ...

    async def all_facts(
        self, member_id: str, *, client_key: str | None = None, limit: int = 500
    ) -> list[ClientFact]:
        """Every stored fact of the portal (or of one client), expired or not, newest first."""
        ...

    async def forget(
        self,
        member_id: str,
        *,
        client_keys: Sequence[str] = (),
        dialog_keys: Sequence[str] = (),
        fact_id: int | None = None,
    ) -> int:
        """Delete the facts of these clients, or extracted from these dialogues, or one fact; returns how many."""
        ...

    async def purge_expired(self, member_id: str, *, now: float) -> int: ...

    async def unread_turns(
        self, member_id: str, dialog_key: str, *, after_seq: int, limit: int
    ) -> list[tuple[int, Turn]]:
        """The dialogue's turns newer than ``after_seq`` with their seq, oldest first (at most the last
        ``limit`` of them)."""
        ...

    async def idle_dialogues(
        self, *, quiet_since: float, not_before: float, limit: int
    ) -> list[IdleDialogue]:
        """Dialogues whose newest turn is older than ``quiet_since`` (and newer than ``not_before``) and
        has not been read by the memory yet, oldest first."""
        ...


class ClientRecall(Protocol):
    """What the answer path asks of the memory (the client-memory domain implements it)."""

    async def recall(self, member_id: str, *, author_id: int, contact_id: int | None) -> list[ClientFact]:
        """The client's unexpired facts (nothing when the portal turned memory off)."""
        ...
