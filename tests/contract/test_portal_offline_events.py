"""The portal emulator's offline events held to the reference (reference/bitrix24.md §2.3,
bitrix24_fixtures/event.offline.get_reserved_response.json, ONOFFLINEEVENT.json), and our gateway
against it over real HTTP."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qsl

import pytest

from tests.contract.test_portal_emulator import Portal, Recorder, _install, portal, recorder

__all__ = ["portal", "recorder"]  # fixtures shared with the emulator's main contract test

pytestmark = pytest.mark.contract

# bitrix24_fixtures/event.offline.get_reserved_response.json body.result.events[0]
RECORD_KEYS = {"ID", "TIMESTAMP_X", "EVENT_NAME", "EVENT_DATA", "EVENT_ADDITIONAL", "MESSAGE_ID"}
# bitrix24_fixtures/ONOFFLINEEVENT.json "form" keys (data is empty: absent on the wire)
ONOFFLINEEVENT_KEYS = {
    "event",
    "event_handler_id",
    "ts",
    *{
        f"auth[{k}]"
        for k in (
            "access_token",
            "expires",
            "expires_in",
            "scope",
            "domain",
            "server_endpoint",
            "status",
            "client_endpoint",
            "member_id",
            "user_id",
            "refresh_token",
            "application_token",
        )
    },
}


async def _contact_update(portal: Portal, contact_id: int, post: str) -> None:
    r = await portal.ok("crm.contact.update", {"id": contact_id, "fields": {"POST": post}})
    assert r["result"] is True


async def test_offline_queue_reserve_reread_clear_and_merge(portal: Portal) -> None:
    await _install(portal)
    await portal.ok("event.bind", {"event": "ONCRMCONTACTUPDATE", "event_type": "offline"})
    bound = (await portal.ok("event.get"))["result"]
    assert {"event": "ONCRMCONTACTUPDATE", "handler": "", "auth_type": "0", "offline": 1} in bound

    contact = next(iter(portal.state.crm[3]))
    await _contact_update(portal, contact, "Закупщик")
    portal.clock.advance(5)
    await _contact_update(portal, contact, "Директор")  # same object: merged, TIMESTAMP_X bumped
    got = (await portal.ok("event.offline.get", {"clear": 0}))["result"]
    assert got["process_id"] and len(got["process_id"]) == 32
    [record] = got["events"]
    assert set(record) == RECORD_KEYS
    assert record["EVENT_NAME"] == "ONCRMCONTACTUPDATE"
    assert record["EVENT_DATA"] == {"FIELDS": {"ID": str(contact)}}
    assert record["EVENT_ADDITIONAL"] == {"user_id": "1"}
    data = json.dumps({"FIELDS": {"ID": str(contact)}}, separators=(",", ":"))
    assert record["MESSAGE_ID"] == hashlib.md5(f"ONCRMCONTACTUPDATE|{data}".encode()).hexdigest()
    assert record["TIMESTAMP_X"] == portal.state.iso(portal.clock())

    # Reserved: a second reader gets a disjoint (here: empty) set; a change to the same object now
    # creates a new record instead of touching the reserved one.
    assert (await portal.ok("event.offline.get", {"clear": 0}))["result"]["events"] == []
    await _contact_update(portal, contact, "Владелец")
    listed = (await portal.ok("event.offline.list"))["result"]
    assert [(r["ID"], r["PROCESS_ID"] == got["process_id"]) for r in listed] == [
        (record["ID"], True),
        (str(int(record["ID"]) + 1), False),
    ]
    # The reserved batch is re-read by its process_id (a crash before the clear loses nothing)...
    again = (await portal.ok("event.offline.get", {"clear": 0, "process_id": got["process_id"]}))["result"]
    assert [e["ID"] for e in again["events"]] == [record["ID"]]
    # ...and cleared only by event.offline.clear.
    assert (await portal.ok("event.offline.clear", {"process_id": got["process_id"]}))["result"] is True
    listed = (await portal.ok("event.offline.list"))["result"]
    assert [r["ID"] for r in listed] == [str(int(record["ID"]) + 1)]
    # clear=1 (the default) deletes on read and names no process.
    deleted = (await portal.ok("event.offline.get"))["result"]
    assert deleted["process_id"] is None and len(deleted["events"]) == 1
    assert (await portal.ok("event.offline.list"))["result"] == []


async def test_offline_error_limit_filter_and_refusals(portal: Portal) -> None:
    await _install(portal)
    await portal.ok("event.bind", {"event": "ONCRMCONTACTUPDATE", "event_type": "offline"})
    contacts = list(portal.state.crm[3])[:3]
    for c in contacts:
        await _contact_update(portal, c, "x")
    first = (await portal.ok("event.offline.get", {"clear": 0, "limit": 2}))["result"]
    assert len(first["events"]) == 2
    bad = first["events"][0]["MESSAGE_ID"]
    await portal.ok("event.offline.error", {"process_id": first["process_id"], "message_id": [bad]})
    await portal.ok("event.offline.clear", {"process_id": first["process_id"]})
    # The erroneous record survived the clear and is read with error=1 only.
    rest = (await portal.ok("event.offline.get", {"clear": 0}))["result"]["events"]
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in rest] == [str(contacts[2])]
    errs = (await portal.ok("event.offline.get", {"clear": 0, "error": 1}))["result"]["events"]
    assert [e["MESSAGE_ID"] for e in errs] == [bad]
    # filter by name with an operator prefix; "!" is refused
    await _contact_update(portal, contacts[0], "y")
    hit = await portal.ok("event.offline.get", {"clear": 0, "filter": {"=EVENT_NAME": "ONCRMCONTACTUPDATE"}})
    assert len(hit["result"]["events"]) == 1
    r = await portal.call("event.offline.get", {"filter": {"!EVENT_NAME": "X"}})
    assert r.status_code == 400 and r.json()["error"] == "ERROR_ARGUMENT"
    r = await portal.call("event.offline.clear", {})
    assert r.status_code == 400 and r.json()["error"] == "ERROR_ARGUMENT"
    portal.state.config.offline_extended = False
    r = await portal.call("event.offline.get", {"clear": 0})
    assert r.status_code == 403 and r.json()["error"] == "WRONG_LICENSE"
    code = portal.state.create_webhook(1, ["crm"])
    r = await portal.http.post(f"/rest/1/{code}/event.offline.get", json={})
    assert r.status_code in (401, 403)


async def test_onofflineevent_notifies_within_min_timeout(
    portal: Portal, recorder: tuple[Recorder, str]
) -> None:
    rec, url = recorder
    await _install(portal)
    await portal.ok("event.bind", {"event": "ONCRMCONTACTUPDATE", "event_type": "offline"})
    await portal.ok(
        "event.bind", {"event": "ONOFFLINEEVENT", "handler": f"{url}/hook", "options": {"minTimeout": 10}}
    )
    contacts = list(portal.state.crm[3])[:3]
    await _contact_update(portal, contacts[0], "a")
    await _contact_update(portal, contacts[1], "b")  # within minTimeout: no second notification
    await portal.state.wait_deliveries()
    assert len(rec.forms("ONOFFLINEEVENT")) == 1
    portal.clock.advance(11)
    await _contact_update(portal, contacts[2], "c")
    await portal.state.wait_deliveries()
    forms = rec.forms("ONOFFLINEEVENT")
    assert len(forms) == 2
    assert {k for k, _ in forms[0]} == ONOFFLINEEVENT_KEYS
    assert not [k for k, _ in forms[0] if k.startswith("data")]
    # the online binding of ONCRMCONTACTUPDATE does not exist: nothing else was pushed
    assert all(("event", "ONCRMCONTACTUPDATE") not in parse_qsl(b.decode()) for _, _, b in rec.posts)
