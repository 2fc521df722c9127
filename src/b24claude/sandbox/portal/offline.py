"""Offline events: ``event.bind {event_type: "offline"}``, ``event.offline.get/clear/error/list`` and
the ``ONOFFLINEEVENT`` notification (reference/bitrix24.md §2.3; rest/lib/eventoffline.php).

What the emulator keeps, as Bitrix24 does:

- one queue per application; a record holds the **latest state per object**, not a history: its
  ``MESSAGE_ID`` is ``md5(EVENT_NAME + "|" + json(EVENT_DATA))``, and the same event/data again
  bumps ``TIMESTAMP_X`` of the un-reserved record instead of adding one; a reserved record is left
  alone and a new one is created;
- ``event.offline.get`` with ``clear=1`` (the default) deletes what it returns; with ``clear=0`` it
  reserves the batch under a new 32-character ``process_id`` (parallel calls get disjoint sets) and
  ``process_id`` re-reads that batch; ``error=1`` reads only the records marked erroneous;
- ``event.offline.clear`` deletes the batch's records (``id`` wins over ``message_id``; all by
  default); ``event.offline.error`` marks records ``ERROR=1`` and releases them from the batch, so
  ``event.offline.get {error: 1}`` finds them again;
- ``ONOFFLINEEVENT`` goes to the app's online handlers when a record is queued, at most once per
  ``options.minTimeout`` seconds (default 1; 0 = on every hit);
- admin only, application auth only (webhook: 403 ``WRONG_AUTH_TYPE``); ``clear=0`` needs feature
  ``rest_offline_extended`` (``PortalConfig.offline_extended``; else 403 ``WRONG_LICENSE``).

Not emulated: ``auth_connector`` (loop prevention for an app's own writes) and the 30-day purge of
reserved batches.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Paged, Registry, RestError, as_int, param, yes

if TYPE_CHECKING:
    from .state import App, EventBinding, PortalState

methods = Registry()

FILTER_FIELDS = {"ID", "TIMESTAMP_X", "EVENT_NAME", "MESSAGE_ID"}
LIST_FILTER_FIELDS = FILTER_FIELDS | {"PROCESS_ID", "ERROR"}


@dataclass
class OfflineRecord:
    id: int
    client_id: str
    timestamp: float
    event_name: str
    event_data: JSON
    event_additional: JSON
    message_id: str
    process_id: str = ""
    error: bool = False

    def view(self, state: PortalState, *, full: bool = False) -> JSON:
        out: JSON = {
            "ID": str(self.id),
            "TIMESTAMP_X": state.iso(self.timestamp),
            "EVENT_NAME": self.event_name,
            "EVENT_DATA": self.event_data,
            "EVENT_ADDITIONAL": self.event_additional,
            "MESSAGE_ID": self.message_id,
        }
        if full:
            out["PROCESS_ID"] = self.process_id
            out["ERROR"] = "1" if self.error else "0"
        return out

    def value(self, name: str) -> Any:
        return {
            "ID": self.id,
            "TIMESTAMP_X": self.timestamp,
            "EVENT_NAME": self.event_name,
            "MESSAGE_ID": self.message_id,
            "PROCESS_ID": self.process_id,
            "ERROR": 1 if self.error else 0,
        }[name]


@dataclass
class OfflineQueue:
    records: list[OfflineRecord] = field(default_factory=list)
    last_notified: dict[str, float] = field(default_factory=dict)  # client_id -> time of ONOFFLINEEVENT
    next_id: int = 1

    def of(self, client_id: str) -> list[OfflineRecord]:
        return [r for r in self.records if r.client_id == client_id]


def message_id(event: str, data: JSON) -> str:
    # PHP: md5($eventName.'|'.Json::encode($eventData)); Json::encode keeps "/" and Unicode escaped.
    return hashlib.md5(f"{event}|{json.dumps(data, separators=(',', ':'))}".encode()).hexdigest()


def enqueue(state: PortalState, app: App, event: str, data: JSON, *, user_id: int) -> OfflineRecord:
    """An event for an app with an offline binding: merged into the queue, then the app notified."""
    queue = state.offline
    mid = message_id(event, data)
    now = state.now()
    record = next(
        (
            r
            for r in queue.records
            if r.client_id == app.client_id and r.message_id == mid and not r.process_id and not r.error
        ),
        None,
    )
    if record is not None:
        record.timestamp = now
    else:
        record = OfflineRecord(
            id=queue.next_id,
            client_id=app.client_id,
            timestamp=now,
            event_name=event,
            event_data=data,
            event_additional={"user_id": str(user_id)},
            message_id=mid,
        )
        queue.next_id += 1
        queue.records.append(record)
    _notify(state, app)
    return record


def _notify(state: PortalState, app: App) -> None:
    from .auth import event_auth

    for binding in state.event_bindings:
        if binding.client_id != app.client_id or binding.event != "ONOFFLINEEVENT" or binding.offline:
            continue
        min_timeout = _min_timeout(binding)
        last = state.offline.last_notified.get(app.client_id)
        now = state.now()
        if min_timeout > 0 and last is not None and now - last < min_timeout:
            continue
        state.offline.last_notified[app.client_id] = now
        body: JSON = {
            "event": "ONOFFLINEEVENT",
            "event_handler_id": str(binding.id),
            "data": [],  # empty: absent from the form on the wire
            "ts": str(int(now)),
            "auth": event_auth(state, app, binding.auth_type or app.installed_by, with_refresh=True),
        }
        state.deliverer.send_form(binding.handler, body, event="ONOFFLINEEVENT")


def _min_timeout(binding: EventBinding) -> float:
    raw = param(binding.options, "minTimeout", 1)
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return 1.0


def _check_caller(state: PortalState, caller: Caller) -> str:
    if caller.kind != "oauth" or caller.client_id is None:
        raise RestError(403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")
    if not state.is_admin(caller.user_id):
        raise RestError(403, "ACCESS_DENIED", "Access denied! Admin permissions required")
    return caller.client_id


def _filtered(records: list[OfflineRecord], raw: Any, allowed: set[str]) -> list[OfflineRecord]:
    if raw in (None, "", []):
        return records
    if not isinstance(raw, dict):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'filter' must be an array")
    out = records
    for key, expected in raw.items():
        op = ""
        name = str(key)
        for candidate in (">=", "<=", "=", ">", "<"):
            if name.startswith(candidate):
                op, name = candidate, name[len(candidate) :]
                break
        name = name.upper()
        if name.startswith("!") or name not in allowed or isinstance(expected, dict | list):
            raise RestError(400, "ERROR_ARGUMENT", f"Filter field '{key}' is not allowed")
        out = [r for r in out if _match(r.value(name), op or "=", expected, name)]
    return out


def _match(value: Any, op: str, expected: Any, name: str) -> bool:
    if isinstance(value, int | float) and name != "TIMESTAMP_X":
        try:
            exp: Any = float(expected)
        except (TypeError, ValueError):
            return False
    elif name == "TIMESTAMP_X":
        exp = _ts(expected)
    else:
        exp, value = str(expected), str(value)
    return bool(
        {
            "=": value == exp,
            ">": value > exp,
            "<": value < exp,
            ">=": value >= exp,
            "<=": value <= exp,
        }[op]
    )


def _ts(raw: Any) -> float:
    from datetime import datetime

    try:
        return float(raw)
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(str(raw)).timestamp()
    except ValueError:
        raise RestError(400, "ERROR_ARGUMENT", f"Bad date '{raw}'") from None


def _ordered(records: list[OfflineRecord], raw: Any, default: tuple[str, str]) -> list[OfflineRecord]:
    order = list(raw.items()) if isinstance(raw, dict) and raw else [default]
    out = list(records)
    for name, direction in reversed(order):
        field_name = str(name).upper()
        if field_name not in LIST_FILTER_FIELDS:
            raise RestError(400, "ERROR_ARGUMENT", f"Order field '{name}' is not allowed")
        out.sort(key=lambda r: r.value(field_name), reverse=str(direction).upper() == "DESC")
    return out


def _ids(raw: Any) -> list[str]:
    if raw in (None, "", []):
        return []
    items = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else [raw]
    return [str(i) for i in items]


@methods.add("event.offline.get", app_only=True)
async def offline_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    client_id = _check_caller(state, caller)
    clear = yes(param(params, "clear", 1))
    if not clear and not state.config.offline_extended:
        raise RestError(403, "WRONG_LICENSE", "Offline events with clear=0 require rest_offline_extended")
    limit = as_int(param(params, "limit", 50), 50)
    if limit <= 0:
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'limit' must be a positive integer")
    want_error = yes(param(params, "error", 0))
    process_id = str(param(params, "process_id", "") or "")
    mine = state.offline.of(client_id)
    if process_id:
        batch = [r for r in mine if r.process_id == process_id]
    else:
        batch = [r for r in mine if not r.process_id and r.error == want_error]
    batch = _ordered(
        _filtered(batch, param(params, "filter"), FILTER_FIELDS),
        param(params, "order"),
        ("TIMESTAMP_X", "ASC"),
    )
    batch = batch[:limit]
    if clear:
        gone = {id(r) for r in batch}
        state.offline.records = [r for r in state.offline.records if id(r) not in gone]
        out_pid: str | None = None
    else:
        out_pid = process_id or secrets.token_hex(16)
        for r in batch:
            r.process_id = out_pid
    return {"process_id": out_pid, "events": [r.view(state) for r in batch]}


def _batch(state: PortalState, caller: Caller, params: JSON) -> tuple[str, list[OfflineRecord]]:
    client_id = _check_caller(state, caller)
    process_id = str(param(params, "process_id", "") or "")
    if not process_id:
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'process_id' is required")
    return process_id, [r for r in state.offline.of(client_id) if r.process_id == process_id]


@methods.add("event.offline.clear", app_only=True)
async def offline_clear(state: PortalState, caller: Caller, params: JSON) -> Any:
    _, batch = _batch(state, caller, params)
    ids = _ids(param(params, "id"))
    mids = _ids(param(params, "message_id"))
    if ids:
        batch = [r for r in batch if str(r.id) in ids]
    elif mids:
        batch = [r for r in batch if r.message_id in mids]
    gone = {id(r) for r in batch}
    state.offline.records = [r for r in state.offline.records if id(r) not in gone]
    return True


@methods.add("event.offline.error", app_only=True)
async def offline_error(state: PortalState, caller: Caller, params: JSON) -> Any:
    _, batch = _batch(state, caller, params)
    mids = _ids(param(params, "message_id"))
    for r in batch:
        if not mids or r.message_id in mids:
            r.error = True
            r.process_id = ""
    return True


@methods.add("event.offline.list", app_only=True)
async def offline_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    client_id = _check_caller(state, caller)
    records = _filtered(state.offline.of(client_id), param(params, "filter"), LIST_FILTER_FIELDS)
    records = _ordered(records, param(params, "order"), ("ID", "ASC"))
    start = max(0, as_int(param(params, "start", 0)))
    page = records[start : start + 50]
    paged = Paged([r.view(state, full=True) for r in page])
    paged.total = len(records)
    if start + 50 < len(records):
        paged.next = start + 50
    return paged
