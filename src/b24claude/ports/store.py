"""Storage ports: the durable inbox, portals and their tokens, dialogues, effects and the ledger.

The default implementation is SQL (SQLite file, PostgreSQL for scale) in ``adapters/sql``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from b24claude.ports.bitrix import BotApi, PortalAuth, TokenStore

InboxStatus = Literal["pending", "processing", "done", "failed", "ignored"]
EffectStatus = Literal["intent", "done"]


@dataclass(frozen=True, slots=True)
class Portal:
    member_id: str
    domain: str
    auth: PortalAuth
    application_token: str = ""
    language: str = "ru"
    bot_id: int | None = None
    bot_code: str = ""
    bot_api: BotApi = "v2"
    event_offset: int | None = None  # imbot.v2 fetch offset already acknowledged
    installed: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    member_id: str
    key: str  # unique per portal (DESIGN.md §7)
    kind: str  # event name, e.g. ONIMBOTMESSAGEADD, ONIMBOTV2MESSAGEADD
    payload: Mapping[str, Any]
    status: InboxStatus
    attempts: int
    dialog_key: str = ""  # per-dialogue serialisation key; includes the portal ("<member_id>:dlg:...")
    received_at: float = 0.0
    not_before: float = 0.0
    last_error: str = ""
    priority: int = 0  # 0..9, higher first (VIP, urgent); see inbox/priority.py
    lease_until: float = 0.0  # while processing: the claim expires then unless renewed (0 = no lease)


@dataclass(frozen=True, slots=True)
class NewInboxItem:
    member_id: str
    key: str
    kind: str
    payload: Mapping[str, Any]
    dialog_key: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str
    message_id: int | None = None
    created_at: float = 0.0
    citations: tuple[str, ...] = ()  # the knowledge passages an answer cites ("file.md#Heading", FAQ ids)


@dataclass(frozen=True, slots=True)
class Effect:
    inbox_id: int
    kind: str  # e.g. "reply"
    status: EffectStatus
    payload: Mapping[str, Any]
    result: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    member_id: str
    feature: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float
    latency_s: float
    dialog_key: str = ""
    request_id: str | None = None
    inbox_id: int | None = None


class InboxRepository(Protocol):
    async def add_many(self, items: Sequence[NewInboxItem]) -> list[bool]:
        """Insert durably in one transaction; ``False`` for an item whose (member_id, key) exists."""
        ...

    async def claim(self, *, limit: int, now: float, busy_dialogs: Sequence[str] = ()) -> list[InboxItem]:
        """Move up to ``limit`` due pending items to ``processing`` (oldest first), at most one per
        dialogue and none from ``busy_dialogs``; returns them."""
        ...

    async def insert_many(self, items: Sequence[NewInboxItem]) -> list[int | None]:
        """:meth:`add_many` returning each new row's id (``None`` for a key that exists)."""
        ...

    async def claim_row(self, item_id: int, *, now: float, lease_until: float) -> InboxItem | None:
        """Move one due pending row to ``processing`` with a lease, if it is its dialogue's oldest
        pending row and no row of the dialogue is ``processing``; ``None`` otherwise (already taken,
        done, not yet due, or its dialogue is busy)."""
        ...

    async def renew_lease(self, item_id: int, *, lease_until: float) -> bool:
        """Extend a ``processing`` row's lease; ``False`` when the row is no longer processing."""
        ...

    async def pending_after(self, dialog_key: str, after_id: int, *, limit: int) -> list[InboxItem]:
        """The dialogue's pending rows newer than ``after_id``, oldest first (read only): the messages
        waiting behind a claimed row, which coalescing may answer together with it."""
        ...

    async def claim_followers(
        self, item_ids: Sequence[int], *, dialog_key: str, lease_until: float
    ) -> list[InboxItem]:
        """Move those of these rows that are still ``pending`` in ``dialog_key`` to ``processing`` with
        a lease; returns them, oldest first. Only the worker holding the dialogue's claimed row calls
        it (no other worker can claim a row of a busy dialogue)."""
        ...

    async def ready_heads(
        self, *, now: float, announced_before: float, limit: int, dialog_key: str | None = None
    ) -> list[InboxItem]:
        """Due pending rows that could be claimed now (their dialogue's oldest, dialogue not busy) and
        were last announced before ``announced_before``; marks them announced at ``now``. Concurrent
        callers get disjoint rows. ``dialog_key`` limits it to one dialogue."""
        ...

    async def mark_done(self, item_id: int, *, status: InboxStatus = "done") -> None: ...

    async def mark_retry(self, item_id: int, *, error: str, not_before: float) -> None:
        """Back to ``pending`` with attempts+1, not before the given time."""
        ...

    async def mark_failed(self, item_id: int, *, error: str) -> None: ...

    async def requeue_processing(self, *, stale_before: float | None = None) -> int:
        """Items left ``processing`` by a dead process go back to ``pending``: all of them, or when
        ``stale_before`` is given only those whose lease expired before it (rows claimed without a
        lease: last touched before it), so live peers' rows are left alone."""
        ...

    async def dialogue_heads(self, member_id: str, *, kind: str, since: float) -> list[InboxItem]:
        """The newest row of ``kind`` of each dialogue of the portal received at or after ``since``
        (wall clock), oldest first: where reconciling a classic bot starts reading."""
        ...

    async def release(self, item_ids: Sequence[int]) -> int:
        """Rows a stopping worker still held go back to ``pending`` at once (no attempt counted,
        announced again); returns how many were released."""
        ...

    async def counts(self, member_id: str | None = None) -> Mapping[str, int]:
        """Rows per status, of one portal when ``member_id`` is given."""
        ...

    async def get(self, item_id: int) -> InboxItem | None: ...

    async def list_items(
        self, *, statuses: Sequence[InboxStatus], member_id: str | None = None, limit: int = 50
    ) -> list[InboxItem]:
        """Rows in these statuses, newest first (for operators: what is stuck, what failed)."""
        ...

    async def replay(
        self, item_ids: Sequence[int] | None = None, *, statuses: Sequence[InboxStatus] = ()
    ) -> int:
        """Put rows back to ``pending`` with a fresh retry budget: the given ids, or every row in
        ``statuses``; returns how many. Handlers are idempotent, so a replay repeats no effect."""
        ...


class PortalRepository(TokenStore, Protocol):
    async def get(self, member_id: str) -> Portal | None: ...

    async def upsert(self, portal: Portal) -> None: ...

    async def set_bot(self, member_id: str, *, bot_id: int, bot_code: str, bot_api: BotApi) -> None: ...

    async def set_event_offset(self, member_id: str, offset: int) -> None: ...

    async def update_settings(self, member_id: str, settings: Mapping[str, Any]) -> None:
        """Replace the admin's settings (``Portal.settings``); the caller merges."""
        ...

    async def mark_uninstalled(self, member_id: str) -> None: ...

    async def list_installed(self) -> list[Portal]: ...


class BotCommandRepository(Protocol):
    """The commands registered with each bot of a portal (so a replay or a reinstall registers none twice)."""

    async def registered(self, member_id: str, bot_id: int) -> Mapping[str, int]:
        """Command name -> Bitrix24 command id."""
        ...

    async def add(self, member_id: str, bot_id: int, name: str, command_id: int) -> None: ...


class DialogueRepository(Protocol):
    async def append(self, member_id: str, dialog_key: str, turn: Turn) -> None: ...

    async def last_turns(self, member_id: str, dialog_key: str, *, limit: int) -> list[Turn]:
        """The last ``limit`` turns, oldest first."""
        ...


class EffectRepository(Protocol):
    async def get(self, inbox_id: int, kind: str) -> Effect | None: ...

    async def record_intent(self, inbox_id: int, kind: str, payload: Mapping[str, Any]) -> None:
        """Record that we are about to perform an effect (idempotent for the same inbox_id+kind)."""
        ...

    async def record_done(self, inbox_id: int, kind: str, result: Mapping[str, Any]) -> None: ...


class LedgerRepository(Protocol):
    async def add(self, entry: LedgerEntry) -> None: ...

    async def totals(self, member_id: str | None = None) -> Mapping[str, float]:
        """Calls, tokens and cost, summed (over one portal or all)."""
        ...
