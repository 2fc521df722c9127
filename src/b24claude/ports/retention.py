"""Retention and the rights of a person: what the scheduled purge, erasure and export need from storage
beyond the everyday repositories, and from the log files.

Dialogue keys: dialogue turns, the vault, subjects and the ledger carry the dialogue's own key
(``"dlg:chat42"``); inbox rows carry it qualified by the portal (``"<member_id>:dlg:chat42"``, so the
inbox can serialise across portals). Methods taking ``dialog_keys`` take the dialogue's own key and
match both forms; :func:`dialogue_key_of` turns a stored key back into the dialogue's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from b24claude.ports.store import InboxItem, Turn

ScanSource = Literal["inbox", "dialogue_turns"]


def dialogue_key_of(member_id: str, stored_key: str) -> str:
    """The dialogue's own key from a key as stored (an inbox row's is prefixed with the portal)."""
    prefix = f"{member_id}:"
    return stored_key[len(prefix) :] if stored_key.startswith(prefix) else stored_key


def stored_forms(member_id: str, dialog_keys: Sequence[str]) -> list[str]:
    """Every form a dialogue key may be stored in (see the module docstring)."""
    keys = [k for k in dict.fromkeys(dialog_keys) if k]
    return keys + [f"{member_id}:{k}" for k in keys]


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One stored record a person's phone or e-mail may hide in, with the dialogue it belongs to.

    ``content`` is a turn's text, or for an inbox row ``{"payload": <the raw event>, "effects": [<each
    effect's payload and result>]}`` (a reply's text lives in its effect).
    """

    source: ScanSource
    row_id: int  # the inbox id, or the turn's seq
    dialog_key: str  # the dialogue's own key ("" = none)
    content: Any


@dataclass(frozen=True, slots=True)
class StoredTurn:
    dialog_key: str
    turn: Turn


class RetentionStore(Protocol):
    async def members(self) -> list[str]:
        """Every portal that has a record or any data (installed or not, known or not)."""
        ...

    # --- the scheduled purge ----------------------------------------------------------------------

    async def purge_turns(self, member_id: str, *, before: float) -> int:
        """Delete the portal's dialogue turns created before ``before``; returns how many."""
        ...

    async def purge_inbox(self, member_id: str, *, before: float) -> int:
        """Delete the portal's *finished* inbox rows (done, failed, ignored) received before ``before``,
        with their effects; pending and processing rows are never touched."""
        ...

    async def purge_ledger(self, member_id: str, *, before: float) -> int: ...

    async def delete_orphans(self, member_id: str, *, before: float) -> Mapping[str, int]:
        """Delete vault entries and subject bindings written before ``before`` whose dialogue has no
        turn left; ``{"vault": n, "subjects": m}``. (Rows newer than ``before`` are spared: a dialogue
        being answered right now may have its vault entries before its first turn.)"""
        ...

    # --- the rights of a person -------------------------------------------------------------------

    def scan(self, member_id: str, source: ScanSource, *, page: int = 500) -> AsyncIterator[ScanRow]:
        """Every record of one kind the portal holds, read ``page`` rows per query (each query short,
        and as cheap at the end of a large portal as at its start)."""
        ...

    async def delete_dialogues(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> Mapping[str, int]:
        """Delete everything of these dialogues in one transaction — turns, inbox rows (and the rows in
        ``inbox_ids``) with their effects, vault entries, subject bindings — and anonymise their ledger
        rows (dialog_key "", inbox_id NULL; costs kept). Returns counts per table."""
        ...

    async def turns(self, member_id: str, dialog_key: str) -> list[Turn]:
        """Every turn of the dialogue, oldest first."""
        ...

    async def inbox_rows(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> list[InboxItem]:
        """The inbox rows of these dialogues and the given ids, oldest first."""
        ...

    async def ledger_summary(
        self, member_id: str, dialog_keys: Sequence[str], *, inbox_ids: Sequence[int] = ()
    ) -> Mapping[str, float]:
        """``calls``, tokens and ``cost_usd`` of the LLM calls made for these dialogues."""
        ...


class LogArchive(Protocol):
    """The service's log files, one file per portal and day."""

    async def members(self) -> list[str]:
        """Portals that have log files."""
        ...

    async def delete_before(self, member_id: str | None, *, before: float) -> int:
        """Delete the day files (of a portal; ``None`` = the service's own) whose whole day is before
        ``before``; returns how many files."""
        ...

    async def drop_lines(
        self,
        member_id: str,
        *,
        dialog_keys: Sequence[str] = (),
        inbox_ids: Sequence[int] = (),
        text_match: Callable[[str], bool] | None = None,
    ) -> int:
        """Remove the portal's log lines about these dialogues or inbox rows (their ``dialog_key`` or
        ``inbox_id`` field), or whose raw text ``text_match`` accepts; returns how many lines."""
        ...

    async def lines(
        self,
        member_id: str,
        *,
        dialog_keys: Sequence[str] = (),
        inbox_ids: Sequence[int] = (),
        text_match: Callable[[str], bool] | None = None,
    ) -> list[Mapping[str, Any]]:
        """The portal's log records that :meth:`drop_lines` would remove, oldest file first."""
        ...
