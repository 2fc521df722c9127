"""The Russian-first PII detector: phones, e-mails, cards, INN, SNILS, passports, OGRN, birth dates,
addresses and people's names in chat text, and its redaction ("[ТЕЛЕФОН_1]").

One :class:`PiiDetector` per process: it loads pymorphy3 once and caches word parses; it keeps no state
between texts, so any number of tasks may share it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from b24claude.ports.privacy import PII_TYPES, PiiType
from b24claude.privacy.addresses import AddressFinder
from b24claude.privacy.candidates import Candidate, resolve
from b24claude.privacy.dates import find_dates
from b24claude.privacy.emails import find_emails
from b24claude.privacy.morph import Morph
from b24claude.privacy.names import NameFinder
from b24claude.privacy.normalise import normalise
from b24claude.privacy.numbers import find_numbers

__all__ = ["LABELS", "PiiDetector", "Span"]

LABELS: dict[PiiType, str] = {
    "phone": "ТЕЛЕФОН",
    "email": "EMAIL",
    "card": "КАРТА",
    "inn": "ИНН",
    "snils": "СНИЛС",
    "passport": "ПАСПОРТ",
    "ogrn": "ОГРН",
    "birthdate": "ДАТА_РОЖДЕНИЯ",
    "address": "АДРЕС",
    "name": "ИМЯ",
}

# How far after a name an undated old date may start to count as the person's birth date.
_NAME_TO_DATE = 4


@dataclass(frozen=True, slots=True)
class Span:
    type: PiiType
    start: int  # offsets into the original text (str indices), end exclusive
    end: int
    value: str  # text[start:end]


class PiiDetector:
    def __init__(self) -> None:
        self._morph = Morph()
        self._names = NameFinder(self._morph)
        self._addresses = AddressFinder(self._morph)

    def detect(self, text: str, types: Collection[PiiType] | None = None) -> list[Span]:
        """Spans sorted by start, non-overlapping (checksum-validated types win, then longer)."""
        wanted = frozenset(PII_TYPES if types is None else types)
        if not text or not wanted:
            return []
        candidates = find_numbers(text) + find_emails(text)
        dates = find_dates(text)
        candidates += dates.births
        if wanted & {"address", "name"}:
            candidates += self._addresses.find(text)
        names: list[Candidate] = []
        if "name" in wanted or "birthdate" in wanted:
            names = self._names.find(text)
            candidates += names
        candidates += _birthdates_after_names(text, names, dates.old_dates)
        return [
            Span(c.type, c.start, c.end, text[c.start : c.end])
            for c in resolve(candidates)
            if c.type in wanted
        ]

    def redact(self, text: str, types: Collection[PiiType] | None = None) -> tuple[str, list[Span]]:
        """Text with each span replaced by "[LABEL_n]" (n counts per type within this text, the same
        value → the same n), and the spans."""
        spans = self.detect(text, types)
        numbers: dict[tuple[PiiType, str], int] = {}
        counts: dict[PiiType, int] = {}
        out: list[str] = []
        pos = 0
        for span in spans:
            key = (span.type, _identity(span.type, span.value))
            n = numbers.get(key)
            if n is None:
                n = numbers[key] = counts[span.type] = counts.get(span.type, 0) + 1
            out.append(text[pos : span.start])
            out.append(f"[{LABELS[span.type]}_{n}]")
            pos = span.end
        out.append(text[pos:])
        return "".join(out), spans


def _identity(pii_type: PiiType, value: str) -> str:
    return normalise(pii_type, value) or " ".join(value.lower().replace("ё", "е").split())


def _birthdates_after_names(text: str, names: list[Candidate], old_dates: list[Candidate]) -> list[Candidate]:
    """ "Иванов Иван Иванович, 12.05.1980": an old date right after a name is the person's birth date."""
    out: list[Candidate] = []
    for date in old_dates:
        for name in names:
            gap = text[name.end : date.start]
            if 0 <= len(gap) <= _NAME_TO_DATE and not gap.strip(" ,;-–—:("):
                out.append(date)
                break
    return out
