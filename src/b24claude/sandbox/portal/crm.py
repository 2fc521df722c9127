"""CRM store: leads (1), deals (2), contacts (3), companies (4) in both the legacy UPPER_CASE view and the
``crm.item`` camelCase view; filters, paging, duplicates, timeline comments, to-dos (§6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import JSON, PAGE, Caller, Paged, Registry, RestError, as_int, as_list, param
from .state import CrmWrite

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()

TYPES = {1: "LEAD", 2: "DEAL", 3: "CONTACT", 4: "COMPANY"}
TYPE_IDS = {name: tid for tid, name in TYPES.items()}
MULTI = ("PHONE", "EMAIL", "WEB", "IM")
INT_FIELDS = {
    "ID",
    "CATEGORY_ID",
    "CONTACT_ID",
    "COMPANY_ID",
    "ASSIGNED_BY_ID",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "LEAD_ID",
}
FLOAT_FIELDS = {"OPPORTUNITY"}
COMMON = [
    "ID",
    "ASSIGNED_BY_ID",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "DATE_CREATE",
    "DATE_MODIFY",
    "OPENED",
    "COMMENTS",
    "SOURCE_ID",
]
FIELDS: dict[int, list[str]] = {
    1: [
        *COMMON,
        "TITLE",
        "NAME",
        "SECOND_NAME",
        "LAST_NAME",
        "STATUS_ID",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "COMPANY_TITLE",
        "CONTACT_ID",
        "COMPANY_ID",
        "HAS_PHONE",
        "HAS_EMAIL",
    ],
    2: [
        *COMMON,
        "TITLE",
        "STAGE_ID",
        "CATEGORY_ID",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "CONTACT_ID",
        "COMPANY_ID",
        "LEAD_ID",
        "CLOSED",
        "BEGINDATE",
        "CLOSEDATE",
    ],
    3: [
        *COMMON,
        "NAME",
        "SECOND_NAME",
        "LAST_NAME",
        "POST",
        "TYPE_ID",
        "COMPANY_ID",
        "LEAD_ID",
        "HAS_PHONE",
        "HAS_EMAIL",
    ],
    4: [*COMMON, "TITLE", "COMPANY_TYPE", "INDUSTRY", "LEAD_ID", "HAS_PHONE", "HAS_EMAIL"],
}
CAMEL = {
    "ID": "id",
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "STATUS_ID": "stageId",
    "COMPANY_TYPE": "typeId",
    "BEGINDATE": "begindate",
    "CLOSEDATE": "closedate",
}
_OP = re.compile(r"^(>=|<=|!=%|=%|%=|!%|!@|!=|>|<|=|!|%|@)?(.+)$")


def camel(name: str) -> str:
    if name in CAMEL:
        return CAMEL[name]
    if name.startswith("UF_CRM_"):
        out = "ufCrm"
        for part in name[7:].split("_"):
            if part.isdigit():
                out += f"_{part}" if len(part) >= 6 else part
            else:
                out += part.capitalize()
        return out
    head, *rest = name.lower().split("_")
    return head + "".join(p.capitalize() for p in rest)


def upper(name: str, type_id: int) -> str:
    for field in [*FIELDS[type_id], *MULTI]:
        if camel(field) == name or field == name.upper():
            return field
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).upper()


def normalize_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits.startswith("9"):
        digits = "7" + digits
    return digits


def _norm_comm(kind: str, value: str) -> str:
    return normalize_phone(value) if kind == "PHONE" else value.strip().lower()


# ----- store --------------------------------------------------------------------------------------
def _apply_multi(state: PortalState, record: JSON, kind: str, entries: Any) -> None:
    current: list[JSON] = list(record.get(kind) or [])
    for entry in as_list(entries):
        if not isinstance(entry, dict):
            entry = {"VALUE": str(entry)}
        entry = {str(k).upper(): v for k, v in entry.items()}
        value = str(entry.get("VALUE", ""))
        existing = next((e for e in current if str(e["ID"]) == str(entry.get("ID", ""))), None)
        if existing is not None:
            if value == "":
                current.remove(existing)
            else:
                existing["VALUE"] = value
                existing["VALUE_TYPE"] = str(entry.get("VALUE_TYPE", existing["VALUE_TYPE"]))
        elif value:
            current.append(
                {
                    "ID": str(state.next_id("multifield", 100)),
                    "VALUE_TYPE": str(entry.get("VALUE_TYPE") or "WORK"),
                    "VALUE": value,
                    "TYPE_ID": kind,
                }
            )
    record[kind] = current
    if kind in ("PHONE", "EMAIL"):
        record[f"HAS_{kind}"] = "Y" if current else "N"


def _set_fields(state: PortalState, type_id: int, record: JSON, fields: JSON) -> None:
    for key, value in fields.items():
        name = upper(str(key), type_id)
        if name in ("ID", "DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID"):
            continue
        if name in MULTI:
            _apply_multi(state, record, name, value)
        elif name == "FM":
            for entry in as_list(value):
                if isinstance(entry, dict):
                    kind = str(entry.get("typeId") or entry.get("TYPE_ID") or "PHONE").upper()
                    _apply_multi(
                        state,
                        record,
                        kind,
                        [
                            {
                                "VALUE": entry.get("value", entry.get("VALUE", "")),
                                "VALUE_TYPE": entry.get("valueType", "WORK"),
                            }
                        ],
                    )
        elif name in FLOAT_FIELDS:
            record[name] = f"{float(value or 0):.2f}"
        elif isinstance(value, bool):
            record[name] = "Y" if value else "N"
        elif isinstance(value, dict | list):
            record[name] = value
        else:
            record[name] = "" if value is None else str(value)


def store_new(
    state: PortalState, type_id: int, fields: JSON, *, created: float | None = None, user_id: int = 1
) -> int:
    new_id = state.next_id(f"crm{type_id}", {1: 40, 2: 470, 3: 900, 4: 30}[type_id])
    when = state.iso(created)
    record: JSON = {name: "" for name in FIELDS[type_id]}
    record.update(
        {
            "ID": str(new_id),
            "DATE_CREATE": when,
            "DATE_MODIFY": when,
            "OPENED": "Y",
            "CREATED_BY_ID": str(user_id),
            "MODIFY_BY_ID": str(user_id),
            "ASSIGNED_BY_ID": str(user_id),
            "PHONE": [],
            "EMAIL": [],
        }
    )
    defaults = {
        1: {"STATUS_ID": "NEW", "CURRENCY_ID": "RUB", "OPPORTUNITY": "0.00"},
        2: {
            "STAGE_ID": "NEW",
            "CATEGORY_ID": "0",
            "CURRENCY_ID": "RUB",
            "OPPORTUNITY": "0.00",
            "CLOSED": "N",
        },
        3: {"TYPE_ID": "CLIENT"},
        4: {"COMPANY_TYPE": "CUSTOMER"},
    }[type_id]
    record.update(defaults)
    _set_fields(state, type_id, record, fields)
    if type_id in (1, 2) and not record.get("TITLE"):
        record["TITLE"] = f"{'Лид' if type_id == 1 else 'Сделка'} #{new_id}"
    if type_id == 3:
        for key in ("CONTACT_ID", "TITLE"):
            record.pop(key, None)
    record["HAS_PHONE"] = "Y" if record["PHONE"] else "N"
    record["HAS_EMAIL"] = "Y" if record["EMAIL"] else "N"
    state.crm[type_id][new_id] = record
    return new_id


def log_write(
    state: PortalState, method: str, type_id: int, entity_id: int, fields: JSON, author: str
) -> None:
    state.crm_writes.append(
        CrmWrite(
            method=method,
            entity=TYPES.get(type_id, str(type_id)),
            id=entity_id,
            fields=fields,
            time=state.now(),
            author=author,
        )
    )


def _emit(state: PortalState, type_id: int, action: str, entity_id: int, user_id: int) -> None:
    from .events import emit_app_event

    emit_app_event(
        state, f"ONCRM{TYPES[type_id]}{action}", {"FIELDS": {"ID": str(entity_id)}}, user_id=user_id
    )


def get_record(state: PortalState, type_id: int, entity_id: int) -> JSON | None:
    return state.crm.get(type_id, {}).get(entity_id)


# ----- views --------------------------------------------------------------------------------------
def legacy_view(record: JSON, select: list[str] | None) -> JSON:
    if not select:
        return {k: v for k, v in record.items() if k not in MULTI}
    wanted = {s.upper() for s in select}
    out: JSON = {}
    for key, value in record.items():
        if (
            key in wanted
            or ("*" in wanted and key not in MULTI)
            or ("UF_*" in wanted and key.startswith("UF_"))
        ):
            out[key] = value
    return out


def item_view(record: JSON, type_id: int, select: list[str] | None) -> JSON:
    wanted = set(select or [])
    everything = not wanted or "*" in wanted
    out: JSON = {}
    for key, value in record.items():
        if key in MULTI:
            continue
        name = camel(key)
        if not everything and name not in wanted and key not in wanted:
            continue
        if key in INT_FIELDS:
            out[name] = as_int(value)
        elif key in FLOAT_FIELDS:
            out[name] = float(value or 0)
        else:
            out[name] = value
    if "*" in wanted or "fm" in wanted:
        out["fm"] = [
            {"id": int(e["ID"]), "valueType": e["VALUE_TYPE"], "value": e["VALUE"], "typeId": e["TYPE_ID"]}
            for kind in MULTI
            for e in record.get(kind) or []
        ]
    return out


# ----- filters, order, paging ---------------------------------------------------------------------
def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, expected: Any) -> bool:
    a, b = _num(actual), _num(expected)
    if a is not None and b is not None:
        return a == b
    if isinstance(expected, bool):
        expected = "Y" if expected else "N"
    return str(actual).lower() == str(expected).lower()


def _compare(op: str, actual: Any, expected: Any) -> bool:
    a, b = _num(actual), _num(expected)
    left: Any = a if a is not None and b is not None else str(actual)
    right: Any = b if a is not None and b is not None else str(expected)
    result: bool = {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
    return result


def _matches_one(op: str, actual: Any, expected: Any) -> bool:
    if op in ("", "=", "@"):
        options = as_list(expected) if isinstance(expected, list | dict) else [expected]
        return any(_equal(actual, o) for o in options)
    if op in ("!", "!=", "!@"):
        return not _matches_one("=", actual, expected)
    if op in ("%", "=%", "%="):
        return str(expected).strip("%").lower() in str(actual).lower()
    if op == "!%":
        return str(expected).strip("%").lower() not in str(actual).lower()
    return _compare(op, actual, expected)


def matches(record: JSON, flt: JSON, type_id: int, *, camel_keys: bool = False) -> bool:
    for raw_key, expected in flt.items():
        if str(raw_key).lower() == "logic":
            continue
        m = _OP.match(str(raw_key))
        if not m:
            continue
        op, name = m.group(1) or "", m.group(2)
        field = upper(name, type_id) if camel_keys else name.upper()
        if field in ("PHONE", "EMAIL"):
            values = [_norm_comm(field, e["VALUE"]) for e in record.get(field) or []]
            targets = [
                _norm_comm(field, str(v))
                for v in (as_list(expected) if isinstance(expected, list | dict) else [expected])
            ]
            hit = any(v in values for v in targets)
            if hit == op.startswith("!"):
                return False
            continue
        if not _matches_one(op, record.get(field, ""), expected):
            return False
    return True


def _sort_key(name: str) -> Callable[[JSON], tuple[bool, float, str]]:
    def key(record: JSON) -> tuple[bool, float, str]:
        number = _num(record.get(name))
        return (number is None, number or 0.0, str(record.get(name, "")))

    return key


def _sorted(records: list[JSON], order: Any, type_id: int, camel_keys: bool) -> list[JSON]:
    pairs = list(order.items()) if isinstance(order, dict) and order else [("ID", "ASC")]
    for field, direction in reversed(pairs):
        name = upper(str(field), type_id) if camel_keys else str(field).upper()
        reverse = str(direction).upper() == "DESC"
        records.sort(key=_sort_key(name), reverse=reverse)
    return records


def select_records(
    state: PortalState, type_id: int, params: JSON, *, camel_keys: bool
) -> tuple[list[JSON], Paged]:
    flt = param(params, "filter") or {}
    if not isinstance(flt, dict):
        flt = {}
    found = [r for r in state.crm[type_id].values() if matches(r, flt, type_id, camel_keys=camel_keys)]
    found = _sorted(found, param(params, "order"), type_id, camel_keys)
    start = as_int(param(params, "start"), 0)
    if start == -1:
        return found[:PAGE], Paged(None)
    start = max(start, 0)
    page = found[start : start + PAGE]
    nxt = start + PAGE if start + PAGE < len(found) else None
    return page, Paged(None, total=len(found), next=nxt)


# ----- legacy methods -----------------------------------------------------------------------------
def _fields_param(params: JSON) -> JSON:
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise RestError(400, "ERROR_ARGUMENT", "Parameter 'fields' must be array")
    return fields


def _register_legacy(kind: str, type_id: int) -> None:
    async def get(state: PortalState, caller: Caller, params: JSON) -> Any:
        record = get_record(state, type_id, as_int(param(params, "id")))
        if record is None:
            raise RestError(400, "", "Not found")
        return dict(record)

    async def list_(state: PortalState, caller: Caller, params: JSON) -> Any:
        select = [str(s) for s in as_list(param(params, "select"))]
        page, paged = select_records(state, type_id, params, camel_keys=False)
        paged.result = [legacy_view(r, select) for r in page]
        return paged

    async def add(state: PortalState, caller: Caller, params: JSON) -> Any:
        fields = _fields_param(params)
        new_id = store_new(state, type_id, fields, user_id=caller.user_id)
        log_write(state, f"crm.{kind}.add", type_id, new_id, fields, caller.author)
        _emit(state, type_id, "ADD", new_id, caller.user_id)
        return new_id

    async def update(state: PortalState, caller: Caller, params: JSON) -> Any:
        entity_id = as_int(param(params, "id"))
        record = get_record(state, type_id, entity_id)
        if record is None:
            raise RestError(400, "", "Not found")
        fields = _fields_param(params)
        _set_fields(state, type_id, record, fields)
        record["DATE_MODIFY"] = state.iso()
        record["MODIFY_BY_ID"] = str(caller.user_id)
        if type_id == 2:
            record["CLOSED"] = "Y" if record.get("STAGE_ID") in ("WON", "LOSE") else "N"
        log_write(state, f"crm.{kind}.update", type_id, entity_id, fields, caller.author)
        _emit(state, type_id, "UPDATE", entity_id, caller.user_id)
        return True

    async def fields(state: PortalState, caller: Caller, params: JSON) -> Any:
        return {
            name: {
                "type": "crm_multifield"
                if name in MULTI
                else ("integer" if name in INT_FIELDS else "double" if name in FLOAT_FIELDS else "string"),
                "isRequired": False,
                "isReadOnly": name in ("ID", "DATE_CREATE", "DATE_MODIFY"),
                "isImmutable": False,
                "isMultiple": name in MULTI,
                "isDynamic": False,
                "title": name,
            }
            for name in [*FIELDS[type_id], "PHONE", "EMAIL"]
        }

    for action, fn in (("get", get), ("list", list_), ("add", add), ("update", update), ("fields", fields)):
        methods.add(f"crm.{kind}.{action}", scope="crm")(fn)


for _kind, _tid in (("lead", 1), ("deal", 2), ("contact", 3), ("company", 4)):
    _register_legacy(_kind, _tid)


# ----- crm.item -----------------------------------------------------------------------------------
def _type_id(params: JSON) -> int:
    type_id = as_int(param(params, "entityTypeId"))
    if type_id not in TYPES:
        raise RestError(400, "NOT_FOUND", "Smart process not found")
    return type_id


@methods.add("crm.item.get", scope="crm")
async def item_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    type_id = _type_id(params)
    record = get_record(state, type_id, as_int(param(params, "id")))
    if record is None:
        raise RestError(400, "NOT_FOUND", "Element not found")
    return {"item": item_view(record, type_id, ["*"])}


@methods.add("crm.item.list", scope="crm")
async def item_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    type_id = _type_id(params)
    select = [str(s) for s in as_list(param(params, "select"))]
    page, paged = select_records(state, type_id, params, camel_keys=True)
    paged.result = {"items": [item_view(r, type_id, select) for r in page]}
    return paged


@methods.add("crm.item.add", scope="crm")
async def item_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    type_id = _type_id(params)
    fields = _fields_param(params)
    new_id = store_new(state, type_id, fields, user_id=caller.user_id)
    log_write(state, "crm.item.add", type_id, new_id, fields, caller.author)
    _emit(state, type_id, "ADD", new_id, caller.user_id)
    return {"item": item_view(state.crm[type_id][new_id], type_id, ["*"])}


@methods.add("crm.item.update", scope="crm")
async def item_update(state: PortalState, caller: Caller, params: JSON) -> Any:
    type_id = _type_id(params)
    entity_id = as_int(param(params, "id"))
    record = get_record(state, type_id, entity_id)
    if record is None:
        raise RestError(400, "NOT_FOUND", "Element not found")
    fields = _fields_param(params)
    _set_fields(state, type_id, record, fields)
    record["DATE_MODIFY"] = state.iso()
    log_write(state, "crm.item.update", type_id, entity_id, fields, caller.author)
    _emit(state, type_id, "UPDATE", entity_id, caller.user_id)
    return {"item": item_view(record, type_id, ["*"])}


@methods.add("crm.item.fields", scope="crm")
async def item_fields(state: PortalState, caller: Caller, params: JSON) -> Any:
    type_id = _type_id(params)
    return {
        "fields": {
            camel(n): {"type": "integer" if n in INT_FIELDS else "string", "title": n, "upperName": n}
            for n in FIELDS[type_id]
        }
    }


# ----- duplicates, timeline, to-dos ---------------------------------------------------------------
def find_by_comm(
    state: PortalState, kind: str, values: list[str], entity_types: list[str] | None = None
) -> JSON:
    wanted = {_norm_comm(kind, v) for v in values if str(v).strip()}
    found: JSON = {}
    for name in entity_types or ["LEAD", "CONTACT", "COMPANY"]:
        ids = [
            rid
            for rid, r in state.crm[TYPE_IDS[name]].items()
            if any(_norm_comm(kind, e["VALUE"]) in wanted for e in r.get(kind) or [])
        ]
        if ids:
            found[name] = sorted(ids)
    return found


@methods.add("crm.duplicate.findbycomm", scope="crm")
async def duplicate_findbycomm(state: PortalState, caller: Caller, params: JSON) -> Any:
    kind = str(param(params, "type", "")).upper()
    if kind not in ("PHONE", "EMAIL"):
        raise RestError(400, "", "Parameter 'type' is invalid")
    values = [str(v) for v in as_list(param(params, "values"))]
    if not values:
        raise RestError(400, "", "Parameter 'values' is empty")
    if len(values) > 20:
        raise RestError(400, "", "Too many values (max 20)")
    entity = param(params, "entity_type")
    entity_types = [str(entity).upper()] if entity else None
    if entity_types and entity_types[0] not in ("LEAD", "CONTACT", "COMPANY"):
        raise RestError(400, "", "Parameter 'entity_type' is invalid")
    found = find_by_comm(state, kind, values, entity_types)
    return found or []


@methods.add("crm.timeline.comment.add", scope="crm")
async def timeline_comment_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    # The key must be lower-case `fields` since crm 23.100.0 (§6).
    fields = params.get("fields")
    if not isinstance(fields, dict):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'fields' is null or empty")
    entity_type = str(param(fields, "ENTITY_TYPE", "")).upper()
    entity_id = as_int(param(fields, "ENTITY_ID"))
    comment = str(param(fields, "COMMENT", "") or "")
    if entity_type not in TYPE_IDS or not comment.strip():
        raise RestError(400, "ERROR_ARGUMENT", "ENTITY_TYPE, ENTITY_ID and COMMENT are required")
    if get_record(state, TYPE_IDS[entity_type], entity_id) is None:
        raise RestError(400, "", "Not found")
    comment_id = state.next_id("timeline", 1000)
    state.timeline_comments.append(
        {
            "ID": comment_id,
            "ENTITY_TYPE": entity_type.lower(),
            "ENTITY_ID": entity_id,
            "COMMENT": comment,
            "AUTHOR_ID": caller.user_id,
            "CREATED": state.iso(),
        }
    )
    log_write(
        state, "crm.timeline.comment.add", TYPE_IDS[entity_type], entity_id, dict(fields), caller.author
    )
    return comment_id


@methods.add("crm.activity.todo.add", scope="crm")
async def activity_todo_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    owner_type = as_int(param(params, "ownerTypeId"))
    owner_id = as_int(param(params, "ownerId"))
    deadline = param(params, "deadline")
    if owner_type not in TYPES or not deadline:
        raise RestError(400, "ERROR_ARGUMENT", "ownerTypeId, ownerId and deadline are required")
    if get_record(state, owner_type, owner_id) is None:
        raise RestError(400, "NOT_FOUND", "Element not found")
    activity_id = state.next_id("activity", 5000)
    fields = {k: v for k, v in params.items() if k != "auth"}
    state.activities.append({"id": activity_id, **fields})
    log_write(state, "crm.activity.todo.add", owner_type, owner_id, fields, caller.author)
    return {"id": activity_id}
