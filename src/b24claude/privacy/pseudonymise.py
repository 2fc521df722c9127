"""Reversible, per-dialogue pseudonymisation: PII → "[ТЕЛЕФОН_1]" before Claude, back only for Bitrix24.

A :class:`DialogueMask` is opened for one dialogue (it loads the dialogue's vault once), masks any
number of texts — the same value always gets the same placeholder within the dialogue, across messages
— and restores placeholders in what goes back to Bitrix24 (the reply, a CRM field). New placeholders
are stored in the vault (encrypted at rest) by :meth:`DialogueMask.save` before anything masked leaves
the process, so a restart can still restore them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from b24claude.ports.bitrix import ClientCard
from b24claude.ports.privacy import PiiType, PiiVault, VaultEntry
from b24claude.privacy.detect import LABELS
from b24claude.privacy.normalise import normalise

_TYPE_OF_LABEL = {label: pii_type for pii_type, label in LABELS.items()}
PLACEHOLDER = re.compile(r"\[(" + "|".join(sorted(LABELS.values(), key=len, reverse=True)) + r")_(\d{1,4})\]")
# What the customer sees if the model invents a placeholder the dialogue never had.
UNKNOWN_PLACEHOLDER = {"ru": "(скрыто)", "en": "(hidden)"}


class DetectedSpan(Protocol):
    @property
    def type(self) -> PiiType: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def value(self) -> str: ...


class Detector(Protocol):
    def detect(self, text: str, types: Collection[PiiType] | None = None) -> Iterable[DetectedSpan]: ...


def placeholders_in(text: str) -> list[str]:
    return [m.group(0) for m in PLACEHOLDER.finditer(text)]


def type_of(placeholder: str) -> PiiType | None:
    m = PLACEHOLDER.fullmatch(placeholder)
    return _TYPE_OF_LABEL.get(m.group(1)) if m else None


def _identity(pii_type: PiiType, value: str) -> str:
    """What makes two written values the same value within a dialogue."""
    return normalise(pii_type, value) or " ".join(value.lower().replace("ё", "е").split())


@dataclass(slots=True)
class DialogueMask:
    member_id: str
    dialog_key: str
    types: frozenset[PiiType]
    _detector: Detector
    _vault: PiiVault
    _by_identity: dict[tuple[PiiType, str], str]
    _values: dict[str, str]
    _counts: dict[PiiType, int]
    _new: list[VaultEntry]

    # --- masking ---------------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        """``text`` with every detected value of the masked types replaced by its placeholder."""
        if not text or not self.types:
            return text
        spans = sorted(self._detector.detect(text, self.types), key=lambda s: s.start)
        out: list[str] = []
        pos = 0
        for span in spans:
            if span.start < pos or span.type not in self.types:
                continue  # overlapping or unasked-for spans are the detector's bug, not a reason to leak
            out.append(text[pos : span.start])
            out.append(self.placeholder(span.type, span.value))
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def placeholder(self, pii_type: PiiType, value: str) -> str:
        """The dialogue's placeholder for this value, created (and queued for the vault) when new."""
        key = (pii_type, _identity(pii_type, value))
        found = self._by_identity.get(key)
        if found is not None:
            return found
        n = self._counts.get(pii_type, 0) + 1
        self._counts[pii_type] = n
        ph = f"[{LABELS[pii_type]}_{n}]"
        self._by_identity[key] = ph
        self._values[ph] = value
        self._new.append(VaultEntry(ph, pii_type, value, normalise(pii_type, value)))
        return ph

    def mask_name(self, name: str) -> str:
        """A person's name from the CRM, word by word ("[ИМЯ_1] [ИМЯ_2]"), so a greeting can use the
        first name alone."""
        if "name" not in self.types:
            return name
        return " ".join(self.placeholder("name", word) for word in name.split())

    def mask_card(self, card: ClientCard) -> ClientCard:
        """The CRM card as the model may see it: names, phones, e-mails and PII in titles masked."""
        if not self.types:
            return card
        # Names first, so the card's own name gets the first placeholders ("[ИМЯ_1] [ИМЯ_2]").
        name = self.mask(card.name) if card.kind == "company" else self.mask_name(card.name)
        first_name = self.mask_name(card.first_name)
        return replace(
            card,
            name=name,
            first_name=first_name,
            phones=tuple(self._mask_value("phone", p) for p in card.phones),
            emails=tuple(self._mask_value("email", e) for e in card.emails),
            open_deals=tuple(
                replace(d, title=self.mask_known_names(self.mask(d.title))) for d in card.open_deals
            ),
            extra={k: self.mask_known_names(self.mask(v)) for k, v in card.extra.items()},
        )

    def mask_known_names(self, text: str) -> str:
        """The name words this dialogue already holds placeholders for, masked wherever they stand as
        whole words. The detector leaves a name that is also a common word ("Вера", "Надежда", "Роза")
        alone in free text, but an Open Lines lead title ("Вера - Онлайн-чат") names the very client
        whose card gave us the name."""
        if "name" not in self.types or not text:
            return text
        names = {v: ph for ph, v in self._values.items() if type_of(ph) == "name" and len(v) >= 2}
        if not names:
            return text
        pattern = re.compile(
            r"(?<![\w\[])("
            + "|".join(re.escape(v) for v in sorted(names, key=len, reverse=True))
            + r")(?![\w\]])",
            re.IGNORECASE,
        )
        lowered = {v.lower(): ph for v, ph in names.items()}
        return pattern.sub(lambda m: lowered.get(m.group(0).lower(), m.group(0)), text)

    def _mask_value(self, pii_type: PiiType, value: str) -> str:
        return self.placeholder(pii_type, value) if pii_type in self.types else value

    # --- restoring -------------------------------------------------------------------------------

    def unmask(self, text: str, *, language: str = "ru") -> str:
        """Placeholders back to the real values (only for what goes to Bitrix24)."""
        unknown = UNKNOWN_PLACEHOLDER.get(language, UNKNOWN_PLACEHOLDER["ru"])
        return PLACEHOLDER.sub(lambda m: self._values.get(m.group(0), unknown), text)

    def value_of(self, placeholder: str) -> str | None:
        return self._values.get(placeholder)

    def contacts(self, masked: str, raw: str) -> list[tuple[PiiType, str]]:
        """Phones and e-mails (real values) the customer wrote: behind the placeholders of ``masked``,
        else detected in ``raw`` (their types are not masked by this portal's policy)."""
        found: list[tuple[PiiType, str]] = []
        for ph in placeholders_in(masked):
            pii_type, value = type_of(ph), self._values.get(ph)
            if pii_type in ("phone", "email") and value is not None:
                found.append((pii_type, value))
        if not found:
            found = [(s.type, s.value) for s in self._detector.detect(raw, ("phone", "email"))]
        return found

    def contact_key(self, pii_type: PiiType, value: str) -> str:
        return normalise(pii_type, value)

    @property
    def pending(self) -> list[VaultEntry]:
        return list(self._new)

    async def save(self) -> None:
        """Store the placeholders created since the last save (before masked text leaves)."""
        if self._new:
            new, self._new = self._new, []
            await self._vault.add(self.member_id, self.dialog_key, new)


class Pseudonymiser:
    def __init__(self, *, detector: Detector, vault: PiiVault) -> None:
        self._detector = detector
        self._vault = vault

    @property
    def detector(self) -> Detector:
        return self._detector

    async def open(self, member_id: str, dialog_key: str, types: Collection[PiiType]) -> DialogueMask:
        entries = await self._vault.entries(member_id, dialog_key)
        by_identity: dict[tuple[PiiType, str], str] = {}
        values: dict[str, str] = {}
        counts: dict[PiiType, int] = {}
        for e in entries:
            by_identity.setdefault((e.pii_type, _identity(e.pii_type, e.value)), e.placeholder)
            values[e.placeholder] = e.value
            m = PLACEHOLDER.fullmatch(e.placeholder)
            if m is not None:
                counts[e.pii_type] = max(counts.get(e.pii_type, 0), int(m.group(2)))
        return DialogueMask(
            member_id=member_id,
            dialog_key=dialog_key,
            types=frozenset(types),
            _detector=self._detector,
            _vault=self._vault,
            _by_identity=by_identity,
            _values=values,
            _counts=counts,
            _new=[],
        )
