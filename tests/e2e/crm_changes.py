"""Helpers for the CRM-change tests: a contact changed in the emulated portal by an employee (an
incoming webhook), and what the next answer's prompt said about the client."""

from __future__ import annotations

import asyncio

import httpx

from b24claude.cli.stack import SandboxStack

ANNA_POSITION = "Закупщик"  # sandbox/portal/seed.py


def anna_contact_id(stack: SandboxStack) -> int:
    return next(cid for cid, c in stack.portal.crm[3].items() if c.get("NAME") == "Анна")


async def employee_updates_contact(stack: SandboxStack, contact_id: int, fields: dict[str, str]) -> None:
    code = stack.portal.create_webhook(1, ["crm"])
    async with httpx.AsyncClient(base_url=stack.portal.base_url, trust_env=False) as http:
        r = await http.post(f"/rest/1/{code}/crm.contact.update", json={"id": contact_id, "fields": fields})
    assert r.status_code == 200 and r.json()["result"] is True, r.text


def last_system_prompt(stack: SandboxStack) -> str:
    call = [r for r in stack.claude.requests if r.path == "/v1/messages"][-1]
    return "".join(block["text"] for block in call.body["system"])


async def wait_offline_bound(stack: SandboxStack, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        kinds = {b.event for b in stack.portal.event_bindings if b.offline}
        if "ONCRMCONTACTUPDATE" in kinds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the app never bound ONCRMCONTACTUPDATE as an offline event")


async def wait_crm_rows_done(stack: SandboxStack, count: int, timeout: float = 15.0) -> None:
    """``count`` ONCRMCONTACTUPDATE rows stored and done, and the portal's queue empty (cleared)."""
    assert stack.container is not None
    rows: list[str] = []
    for _ in range(int(timeout / 0.05)):
        items = await stack.container.store.inbox.list_items(
            statuses=["pending", "processing", "done", "failed", "ignored"], limit=500
        )
        rows = [i.status for i in items if i.kind == "ONCRMCONTACTUPDATE"]
        if len(rows) >= count and all(s == "done" for s in rows) and not stack.portal.offline.records:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"CRM rows {rows}, portal queue {stack.portal.offline.records}")
