"""Open Lines chat entity strings (reference/bitrix24.md §4.3).

``CHAT_ENTITY_DATA_1 = "CRM(Y/N)|CRM_ENTITY_TYPE|CRM_ENTITY_ID|PAUSE|WAIT_ACTION|SESSION_ID|DATE_CREATE|..."``
``CHAT_ENTITY_DATA_2 = "LEAD|id|COMPANY|id|CONTACT|id|DEAL|id"`` (0 = none bound).
"""

from __future__ import annotations

from dataclasses import dataclass

from b24claude.ports.bitrix import CrmRefs

_FIELD_OF = {"LEAD": "lead_id", "CONTACT": "contact_id", "COMPANY": "company_id", "DEAL": "deal_id"}


@dataclass(frozen=True, slots=True)
class EntityData1:
    crm_enabled: bool
    refs: CrmRefs
    session_id: int | None


def _as_id(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def parse_entity_data_2(value: str) -> CrmRefs:
    """All CRM bindings of the dialogue; tolerant of missing or extra pairs."""
    parts = value.split("|") if value else []
    found: dict[str, int | None] = {}
    for name, raw in zip(parts[0::2], parts[1::2], strict=False):
        field = _FIELD_OF.get(name.strip().upper())
        if field and field not in found:
            found[field] = _as_id(raw)
    return CrmRefs(**found)


def parse_entity_data_1(value: str) -> EntityData1:
    parts = value.split("|") if value else []
    get = lambda i: parts[i] if len(parts) > i else ""  # noqa: E731
    field = _FIELD_OF.get(get(1).strip().upper())
    refs = CrmRefs(**{field: _as_id(get(2))}) if field else CrmRefs()
    return EntityData1(crm_enabled=get(0) == "Y", refs=refs, session_id=_as_id(get(5)))
