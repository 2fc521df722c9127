"""Privacy storage ports: the per-dialogue PII vault, who a dialogue is about, consents, the audit.

The vault keeps the real value behind each placeholder ("[ТЕЛЕФОН_1]") of a dialogue, encrypted at
rest by the adapter; lookups by value go through a keyed digest of the *normalised* value (the
domain normalises, the adapter digests), so the vault never needs a plain-text index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from b24claude.ports.bitrix import ClientCard

PiiType = Literal[
    "phone", "email", "card", "inn", "snils", "passport", "ogrn", "birthdate", "address", "name"
]
PII_TYPES: tuple[PiiType, ...] = (
    "phone",
    "email",
    "card",
    "inn",
    "snils",
    "passport",
    "ogrn",
    "birthdate",
    "address",
    "name",
)


@dataclass(frozen=True, slots=True)
class VaultEntry:
    placeholder: str  # e.g. "[ТЕЛЕФОН_1]"
    pii_type: PiiType
    value: str  # the real value, as written
    normalised: str = ""  # the lookup form (digits of a phone, lower-case e-mail); "" = not searchable


@dataclass(frozen=True, slots=True)
class DialogueSubject:
    """Who a dialogue is about: the chat user and the CRM records bound to it."""

    member_id: str
    dialog_key: str
    author_id: int = 0
    contact_id: int | None = None
    lead_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    member_id: str
    action: str  # "erase", "export", "consent", "settings", "purge", "rotate-keys"
    actor: str  # "cli", "admin:<user id>", "scheduler"
    subject: str = ""  # a digest or an opaque id, never a raw phone/e-mail
    details: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    id: int | None = None


class PiiVault(Protocol):
    async def entries(self, member_id: str, dialog_key: str) -> list[VaultEntry]:
        """Every placeholder of the dialogue with its real value (decrypted), in creation order."""
        ...

    async def add(self, member_id: str, dialog_key: str, entries: Sequence[VaultEntry]) -> None:
        """Store new placeholders; an existing (dialogue, placeholder) is left as it is."""
        ...

    async def dialogues_with(self, member_id: str, pii_type: PiiType, normalised: str) -> list[str]:
        """The dialogue keys whose vault holds this (normalised) value."""
        ...


class SubjectRepository(Protocol):
    async def bind(self, subject: DialogueSubject) -> None:
        """Record (or update) who the dialogue is about."""
        ...

    async def get(self, member_id: str, dialog_key: str) -> DialogueSubject | None: ...

    async def dialogues_of(
        self,
        member_id: str,
        *,
        contact_id: int | None = None,
        author_id: int | None = None,
        lead_id: int | None = None,
        company_id: int | None = None,
    ) -> list[str]:
        """The dialogues bound to every one given (none given: none)."""
        ...


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    client_key: str
    granted: bool
    source: str
    updated_at: float


class ConsentRepository(Protocol):
    async def get(self, member_id: str, client_key: str) -> bool | None:
        """The client's consent (``None``: never asked / not recorded)."""
        ...

    async def set(self, member_id: str, client_key: str, granted: bool, *, source: str) -> None: ...

    async def delete(self, member_id: str, client_key: str) -> int: ...

    async def list(self, member_id: str, *, limit: int = 200) -> list[ConsentRecord]:
        """The portal's recorded consents, newest first."""
        ...


class AuditRepository(Protocol):
    async def add(self, record: AuditRecord) -> int: ...

    async def list(self, member_id: str, *, limit: int = 100) -> list[AuditRecord]:
        """Newest first."""
        ...


class Mask(Protocol):
    """One dialogue's pseudonyms, as the other domains use them (privacy.pseudonymise.DialogueMask).

    Masked text (placeholders such as "[ТЕЛЕФОН_1]") is what is stored, cached and sent to Claude; real
    values come back only for Bitrix24 (the reply, a CRM field).
    """

    @property
    def types(self) -> frozenset[PiiType]: ...

    def mask(self, text: str) -> str: ...

    def mask_name(self, name: str) -> str: ...

    def mask_card(self, card: ClientCard) -> ClientCard: ...

    def unmask(self, text: str, *, language: str = "ru") -> str: ...

    def value_of(self, placeholder: str) -> str | None: ...

    def contacts(self, masked: str, raw: str) -> list[tuple[PiiType, str]]:
        """The phones and e-mails (real values) the customer wrote: from the placeholders of ``masked``,
        else detected in ``raw`` (when those types are not masked)."""
        ...

    def contact_key(self, pii_type: PiiType, value: str) -> str:
        """What makes two written phones (e-mails) the same one."""
        ...

    async def save(self) -> None:
        """Store new placeholders (before any masked text that uses them is stored or sent)."""
        ...
