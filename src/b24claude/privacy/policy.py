"""A portal's privacy policy: what is masked before Claude, consent, logging and retention.

Stored as ``Portal.settings["privacy"]`` (a plain mapping, so it survives schema changes); read with
:meth:`PrivacyPolicy.from_settings`, which fills defaults and rejects nonsense with ``BadRequest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from b24claude.errors import BadRequest
from b24claude.ports.privacy import PII_TYPES, PiiType

SETTINGS_KEY = "privacy"
DAY_S = 86_400.0

# With the client's consent (and a portal that respects it) these are still masked: document numbers
# and card data never need to reach the model to answer a question.
ALWAYS_MASKED: frozenset[PiiType] = frozenset({"card", "passport", "snils", "inn", "ogrn"})


@dataclass(frozen=True, slots=True)
class Retention:
    """Days to keep each kind of record; 0 = keep until erased."""

    dialogues_days: int = 180
    inbox_days: int = 30
    ledger_days: int = 1095  # accounting: three years
    logs_days: int = 30

    def seconds(self, kind: str) -> float | None:
        days = int(getattr(self, f"{kind}_days"))
        return None if days <= 0 else days * DAY_S


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    masked_types: frozenset[PiiType] = frozenset(PII_TYPES)
    respect_consent: bool = False  # when on, a consenting client's messages keep consented types
    consented_masked_types: frozenset[PiiType] = ALWAYS_MASKED
    log_message_text: bool = False  # logs carry message text (still PII-masked) only when on
    retention: Retention = field(default_factory=Retention)

    def types_for(self, consent: bool | None) -> frozenset[PiiType]:
        """What to mask for a client with this consent state."""
        if self.respect_consent and consent:
            return self.masked_types & self.consented_masked_types
        return self.masked_types

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> PrivacyPolicy:
        raw = (settings or {}).get(SETTINGS_KEY) or {}
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PrivacyPolicy:
        if not isinstance(raw, Mapping):
            raise BadRequest("privacy settings must be an object")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise BadRequest(f"unknown privacy settings: {', '.join(sorted(unknown))}")
        base = cls()
        values: dict[str, Any] = {}
        for name in ("masked_types", "consented_masked_types"):
            if name in raw:
                values[name] = _types(name, raw[name])
        for name in ("respect_consent", "log_message_text"):
            if name in raw:
                if not isinstance(raw[name], bool):
                    raise BadRequest(f"{name} must be true or false")
                values[name] = raw[name]
        if "retention" in raw:
            values["retention"] = _retention(raw["retention"])
        return replace(base, **values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "masked_types": sorted(self.masked_types),
            "respect_consent": self.respect_consent,
            "consented_masked_types": sorted(self.consented_masked_types),
            "log_message_text": self.log_message_text,
            "retention": {
                "dialogues_days": self.retention.dialogues_days,
                "inbox_days": self.retention.inbox_days,
                "ledger_days": self.retention.ledger_days,
                "logs_days": self.retention.logs_days,
            },
        }

    def merged_into(self, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """The portal settings with this policy in place."""
        out = dict(settings or {})
        out[SETTINGS_KEY] = self.to_dict()
        return out


def client_key(author_id: int) -> str:
    """How a chat client is keyed in the consent table."""
    return f"user:{author_id}"


def _types(name: str, value: Any) -> frozenset[PiiType]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a list of PII types")
    bad = [v for v in value if v not in PII_TYPES]
    if bad:
        raise BadRequest(f"{name}: unknown PII types {', '.join(sorted(bad))}; known: {', '.join(PII_TYPES)}")
    return frozenset(value)


def _retention(value: Any) -> Retention:
    if not isinstance(value, Mapping):
        raise BadRequest("retention must be an object")
    fields = set(Retention.__dataclass_fields__)
    unknown = set(value) - fields
    if unknown:
        raise BadRequest(f"unknown retention settings: {', '.join(sorted(unknown))}")
    days: dict[str, int] = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 36_500:
            raise BadRequest(f"retention.{k} must be a whole number of days between 0 and 36500")
        days[k] = v
    return Retention(**days)
