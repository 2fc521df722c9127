"""The rights of a person in the chats: erasure and export of everything the service holds about them
(152-FZ art. 14 and 21, GDPR art. 15, 17 and 20), each with an audit record.

A person is named by a CRM contact, a phone or an e-mail (any of them, together). Their dialogues are
found by

* the contact: the dialogues bound to it (``dialogue_subjects``);
* the phone / e-mail: the vault's keyed digests of the normalised value, *and* a scan of what the
  portal holds in the raw — inbox events (with their effects) and dialogue turns — for the value in any
  written form ("+7 (999) 123-45-67", "89991234567", "IVAN@Mail.ru"): the vault only knows what the
  detector caught, a raw event knows what the customer wrote;
* the chat user(s) of those dialogues: every other dialogue of that user.

Erasure removes their turns, inbox rows with effects, vault entries, subject bindings, the consents of
those chat users, their log lines; ledger rows lose their link to the dialogue but keep their cost
(accounting). The audit record names the person by a keyed digest, never by the phone or e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from b24claude.errors import BadRequest
from b24claude.kit.clock import Clock
from b24claude.ports.memory import MemoryRepository
from b24claude.ports.privacy import (
    AuditRecord,
    AuditRepository,
    ConsentRepository,
    PiiVault,
    SubjectRepository,
    VaultEntry,
)
from b24claude.ports.retention import LogArchive, RetentionStore, ScanSource
from b24claude.privacy.normalise import normalise
from b24claude.privacy.policy import client_key

SCAN_PAGE = 500
EXPORT_FORMAT = "b24claude.export/1"
_SEP = r"[\s\-().\u00a0]{0,3}"  # what people put between the digits of a phone number
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True, slots=True)
class Person:
    """Who to erase or export: the selectors, normalised (the lookup form of :mod:`normalise`)."""

    contact_id: int | None = None
    phone: str = ""
    email: str = ""

    @classmethod
    def of(
        cls, *, contact_id: int | None = None, phone: str | None = None, email: str | None = None
    ) -> Person:
        if contact_id is None and not phone and not email:
            raise BadRequest(
                "name the person: a CRM contact, a phone or an e-mail / "
                "укажите человека: контакт CRM, телефон или e-mail"
            )
        if contact_id is not None and contact_id <= 0:
            raise BadRequest("a CRM contact id is a positive number / ID контакта CRM — положительное число")
        person = cls(
            contact_id=contact_id,
            phone=normalise("phone", phone) if phone else "",
            email=normalise("email", email) if email else "",
        )
        if phone and len(person.phone) < 7:
            raise BadRequest("the phone number has too few digits / в номере телефона слишком мало цифр")
        if email and _EMAIL.fullmatch(person.email) is None:
            raise BadRequest("the e-mail address is not valid / адрес e-mail неверен")
        return person

    def matcher(self) -> Callable[[str], bool] | None:
        """A test for "this text holds the person's phone or e-mail, in any written form"."""
        if not self.phone and not self.email:
            return None
        phone = _phone_pattern(self.phone) if self.phone else None
        email = self.email

        def matches(text: str) -> bool:
            if phone is not None and phone.search(text):
                return True
            if email and "@" in text:
                return any(normalise("email", c.rstrip(".")) == email for c in _EMAIL.findall(text))
            return False

        return matches


def _phone_pattern(digits: str) -> re.Pattern[str]:
    """Every written form of a phone whose lookup form is ``digits``: separators between the digits, and
    for a Russian number an optional +7 / 7 / 8 in front; never a part of a longer number (one that goes
    on with a digit, or with a dash or dot and a digit: an article code, a date)."""
    prefix = rf"(?:(?:\+\s?7|7|8){_SEP})?" if len(digits) == 10 else r"(?:\+\s?)?"
    return re.compile(r"(?<!\d)(?<!\d[\-.])" + prefix + _SEP.join(digits) + r"(?!\d|[\-.]\d)")


@dataclass(frozen=True, slots=True)
class Found:
    dialog_keys: tuple[str, ...]
    inbox_ids: tuple[int, ...]  # the dialogues' inbox rows, and rows holding the value outside any
    authors: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ErasureReport:
    member_id: str
    dialogues: int
    counts: Mapping[str, int] = field(default_factory=dict)
    audit_id: int | None = None


class PrivacyRights:
    def __init__(
        self,
        *,
        store: RetentionStore,
        vault: PiiVault,
        subjects: SubjectRepository,
        consents: ConsentRepository,
        audit: AuditRepository,
        logs: LogArchive | None = None,
        memory: MemoryRepository | None = None,
        digest: Callable[[str], str],
        clock: Clock,
    ) -> None:
        self._memory = memory
        self._store = store
        self._vault = vault
        self._subjects = subjects
        self._consents = consents
        self._audit = audit
        self._logs = logs
        self._digest = digest
        self._clock = clock

    async def erase(
        self,
        member_id: str,
        *,
        contact_id: int | None = None,
        phone: str | None = None,
        email: str | None = None,
        actor: str,
    ) -> ErasureReport:
        """Remove everything the service holds about one person in one portal; audited.

        The indexes that find the person (vault, subjects) go last, in the same transaction as the
        dialogues, so an erasure interrupted half-way finds the rest when run again.
        """
        person = Person.of(contact_id=contact_id, phone=phone, email=email)
        found = await self.find(member_id, person)
        counts: dict[str, int] = {"log_lines": 0, "consents": 0}
        if self._logs is not None:
            counts["log_lines"] = await self._logs.drop_lines(
                member_id,
                dialog_keys=found.dialog_keys,
                inbox_ids=found.inbox_ids,
                text_match=person.matcher(),
            )
        for key in self._client_keys(person, found):
            counts["consents"] += await self._consents.delete(member_id, key)
        memory = 0
        if self._memory is not None:  # facts kept under the client, whichever dialogue they came from
            memory = await self._memory.forget(
                member_id, client_keys=self._client_keys(person, found), dialog_keys=found.dialog_keys
            )
        counts.update(
            await self._store.delete_dialogues(member_id, found.dialog_keys, inbox_ids=found.inbox_ids)
        )
        counts["memory"] = counts.get("memory", 0) + memory
        details = {"dialogues": len(found.dialog_keys), **counts}
        audit_id = await self._audit.add(
            AuditRecord(
                member_id=member_id,
                action="erase",
                actor=actor,
                subject=self._subject(person),
                details=details,
                created_at=self._clock.now(),
            )
        )
        return ErasureReport(
            member_id=member_id, dialogues=len(found.dialog_keys), counts=counts, audit_id=audit_id
        )

    async def export(
        self,
        member_id: str,
        *,
        contact_id: int | None = None,
        phone: str | None = None,
        email: str | None = None,
        actor: str,
    ) -> dict[str, Any]:
        """Everything the service holds about one person in one portal, placeholders restored; audited."""
        person = Person.of(contact_id=contact_id, phone=phone, email=email)
        found = await self.find(member_id, person)
        dialogues = [await self._export_dialogue(member_id, key) for key in found.dialog_keys]
        events = await self._store.inbox_rows(member_id, found.dialog_keys, inbox_ids=found.inbox_ids)
        consents = []
        for key in self._client_keys(person, found):
            granted = await self._consents.get(member_id, key)
            if granted is not None:
                consents.append({"client_key": key, "granted": granted})
        logs = []
        if self._logs is not None:
            records = await self._logs.lines(
                member_id,
                dialog_keys=found.dialog_keys,
                inbox_ids=found.inbox_ids,
                text_match=person.matcher(),
            )
            logs = [dict(r) for r in records]
        ledger = await self._store.ledger_summary(member_id, found.dialog_keys, inbox_ids=found.inbox_ids)
        memory = await self._facts(member_id, person, found)
        now = self._clock.now()
        export: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "member_id": member_id,
            "generated_at": now,
            "dialogues": dialogues,
            "inbox_events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "status": e.status,
                    "received_at": e.received_at,
                    "dialog_key": e.dialog_key,
                    "payload": e.payload,
                }
                for e in events
            ],
            "consents": consents,
            "client_memory": memory,
            "ledger": dict(ledger),
            "logs": logs,
        }
        counts = {
            "dialogues": len(dialogues),
            "turns": sum(len(d["turns"]) for d in dialogues),
            "inbox_events": len(events),
            "consents": len(consents),
            "client_memory": len(memory),
            "log_lines": len(logs),
        }
        await self._audit.add(
            AuditRecord(
                member_id=member_id,
                action="export",
                actor=actor,
                subject=self._subject(person),
                details=counts,
                created_at=now,
            )
        )
        return export

    async def audit_trail(self, member_id: str, *, limit: int = 100) -> list[AuditRecord]:
        """The portal's audit records, newest first."""
        return await self._audit.list(member_id, limit=limit)

    # --- finding the person -----------------------------------------------------------------------

    async def find(self, member_id: str, person: Person) -> Found:
        """The person's dialogues (and stray inbox rows) in one portal."""
        keys: set[str] = set()
        inbox_ids: set[int] = set()
        if person.contact_id is not None:
            keys.update(await self._subjects.dialogues_of(member_id, contact_id=person.contact_id))
        if person.phone:
            keys.update(await self._vault.dialogues_with(member_id, "phone", person.phone))
        if person.email:
            keys.update(await self._vault.dialogues_with(member_id, "email", person.email))
        matcher = person.matcher()
        if matcher is not None:
            for source in ("inbox", "dialogue_turns"):
                await self._scan(member_id, source, matcher, keys, inbox_ids)
        authors: set[int] = set()
        for key in sorted(keys):
            subject = await self._subjects.get(member_id, key)
            if subject is not None and subject.author_id:
                authors.add(subject.author_id)
        for author in sorted(authors):
            keys.update(await self._subjects.dialogues_of(member_id, author_id=author))
        keys.discard("")
        rows = await self._store.inbox_rows(member_id, sorted(keys), inbox_ids=sorted(inbox_ids))
        inbox_ids.update(row.id for row in rows)
        return Found(tuple(sorted(keys)), tuple(sorted(inbox_ids)), tuple(sorted(authors)))

    async def _scan(
        self,
        member_id: str,
        source: ScanSource,
        matcher: Callable[[str], bool],
        keys: set[str],
        inbox_ids: set[int],
    ) -> None:
        async for row in self._store.scan(member_id, source, page=SCAN_PAGE):
            if any(matcher(text) for text in _strings(row.content)):
                if row.dialog_key:
                    keys.add(row.dialog_key)
                if source == "inbox":
                    inbox_ids.add(row.row_id)

    async def _facts(self, member_id: str, person: Person, found: Found) -> list[dict[str, Any]]:
        """The client-memory facts held about the person: under their client keys or from their dialogues."""
        if self._memory is None:
            return []
        keys = set(self._client_keys(person, found))
        dialogues = set(found.dialog_keys)
        return [
            {
                "id": f.id,
                "client_key": f.client_key,
                "kind": f.kind,
                "text": f.text,
                "source_dialog": f.source_dialog,
                "created_at": f.created_at,
                "expires_at": f.expires_at,
            }
            for f in await self._memory.all_facts(member_id)
            if f.client_key in keys or f.source_dialog in dialogues
        ]

    def _client_keys(self, person: Person, found: Found) -> list[str]:
        keys = [client_key(a) for a in found.authors]
        if person.contact_id is not None:
            keys.append(f"contact:{person.contact_id}")
        return keys

    def _subject(self, person: Person) -> str:
        """An opaque name for the audit record: the contact id, keyed digests of phone and e-mail."""
        parts = []
        if person.contact_id is not None:
            parts.append(f"contact:{person.contact_id}")
        if person.phone:
            parts.append("phone:" + self._digest(f"phone:{person.phone}")[:24])
        if person.email:
            parts.append("email:" + self._digest(f"email:{person.email}")[:24])
        return " ".join(parts)

    async def _export_dialogue(self, member_id: str, dialog_key: str) -> dict[str, Any]:
        entries = await self._vault.entries(member_id, dialog_key)
        subject = await self._subjects.get(member_id, dialog_key)
        turns = await self._store.turns(member_id, dialog_key)
        return {
            "dialog_key": dialog_key,
            "subject": None
            if subject is None
            else {
                "author_id": subject.author_id,
                "contact_id": subject.contact_id,
                "lead_id": subject.lead_id,
                "company_id": subject.company_id,
            },
            "turns": [
                {
                    "role": t.role,
                    "text": restore(t.text, entries),
                    "message_id": t.message_id,
                    "created_at": t.created_at,
                }
                for t in turns
            ],
            "pii": [{"placeholder": e.placeholder, "type": e.pii_type, "value": e.value} for e in entries],
        }


def restore(text: str, entries: Sequence[VaultEntry]) -> str:
    """The text with the dialogue's placeholders replaced by their real values (in one pass, so a value
    that looks like a placeholder is never replaced again)."""
    values = {e.placeholder: e.value for e in entries if e.placeholder}
    if not values:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in sorted(values, key=len, reverse=True)))
    return pattern.sub(lambda m: values[m.group(0)], text)


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
