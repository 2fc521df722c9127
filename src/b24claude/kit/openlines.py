"""Parsers for the Open Lines chat binding strings (reference/bitrix24.md §4.3, §5).

Bitrix24 keeps the CRM binding of an Open Lines chat in pipe-separated strings that arrive both in
bot events (``CHAT_ENTITY_DATA_1/2``, v2 ``chat.entityData1/2``) and in ``imopenlines.dialog.get``
(``entity_data_1/2``). Pure functions, no vendor or port types: ``kit`` sits below ``ports`` in
the layer contract, so callers convert :class:`CrmBindings` into their own types.
"""

from __future__ import annotations

from dataclasses import dataclass

_KINDS = {"LEAD": "lead_id", "CONTACT": "contact_id", "COMPANY": "company_id", "DEAL": "deal_id"}


@dataclass(frozen=True, slots=True)
class CrmBindings:
    """CRM ids bound to a dialogue; ``None`` = no binding of that kind."""

    lead_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None

    def is_empty(self) -> bool:
        return not (self.lead_id or self.contact_id or self.company_id or self.deal_id)


@dataclass(frozen=True, slots=True)
class SessionData:
    """``entity_data_1``: ``CRM(Y/N)|CRM_ENTITY_TYPE|CRM_ENTITY_ID|PAUSE|WAIT_ACTION|SESSION_ID|
    DATE_CREATE|LINE_ID|BLOCK_DATE|BLOCK_REASON`` (imopenlines/lib/chat.php::getFieldData)."""

    crm: bool = False
    crm_entity_type: str = "NONE"
    crm_entity_id: int | None = None
    pause: bool = False
    wait_action: bool = False
    session_id: int | None = None
    date_create: int | None = None
    line_id: int | None = None
    block_date: int | None = None
    block_reason: str = ""

    def bindings(self) -> CrmBindings:
        """The one CRM entity this string names, as bindings (empty when NONE)."""
        field = _KINDS.get(self.crm_entity_type)
        if field is None or not self.crm_entity_id:
            return CrmBindings()
        return CrmBindings(**{field: self.crm_entity_id})


def _positive_int(raw: str) -> int | None:
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if value > 0 else None


def parse_entity_data_2(raw: str | None) -> CrmBindings:
    """``"LEAD|0|COMPANY|0|CONTACT|907|DEAL|482"`` → bindings; ``0``, junk and unknown kinds are skipped."""
    if not raw:
        return CrmBindings()
    parts = raw.split("|")
    found: dict[str, int] = {}
    for kind, value in zip(parts[0::2], parts[1::2], strict=False):
        field = _KINDS.get(kind.strip().upper())
        number = _positive_int(value)
        if field is not None and number is not None and field not in found:
            found[field] = number
    return CrmBindings(**found)


def parse_entity_data_1(raw: str | None) -> SessionData:
    """``"Y|DEAL|482|N|N|3175|1766049900|0|0|0"`` → :class:`SessionData`; missing tail fields stay default."""
    if not raw:
        return SessionData()
    parts = [*raw.split("|"), *([""] * 10)][:10]
    entity_type = parts[1].strip().upper() or "NONE"
    return SessionData(
        crm=parts[0].strip().upper() == "Y",
        crm_entity_type=entity_type,
        crm_entity_id=_positive_int(parts[2]),
        pause=parts[3].strip().upper() == "Y",
        wait_action=parts[4].strip().upper() == "Y",
        session_id=_positive_int(parts[5]),
        date_create=_positive_int(parts[6]),
        line_id=_positive_int(parts[7]),
        block_date=_positive_int(parts[8]),
        block_reason=parts[9].strip() if parts[9].strip() != "0" else "",
    )


def bindings_from_entity_data(data_1: str | None, data_2: str | None) -> CrmBindings:
    """All bindings from ``entity_data_2``; falls back to the single entity of ``entity_data_1``."""
    bindings = parse_entity_data_2(data_2)
    return bindings if not bindings.is_empty() else parse_entity_data_1(data_1).bindings()
