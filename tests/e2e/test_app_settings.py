"""The settings API behind the app page, over HTTP against both emulators: a change is partial,
a bad field is named and nothing is stored, and what the admin set reaches the answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from b24claude.cli.stack import DEMO_CLIENT_ID, SandboxStack
from tests.e2e.portals import api, open_frame, session_of

ADMIN, EMPLOYEE = 1, 3


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v1")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def _session(stack: SandboxStack, user_id: int) -> str:
    page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, user_id))
    assert page.status_code == 200, page.text
    return session_of(page)


async def test_a_partial_change_keeps_the_rest_and_a_bad_field_stores_nothing(stack: SandboxStack) -> None:
    admin, employee = await _session(stack, ADMIN), await _session(stack, EMPLOYEE)
    before = (await api(stack, "GET", "/app/api/settings", employee)).json()
    changed = await api(
        stack, "PATCH", "/app/api/settings", admin, json={"privacy": {"retention": {"inbox_days": 7}}}
    )
    assert changed.status_code == 200, changed.text
    after = (await api(stack, "GET", "/app/api/settings", employee)).json()
    expected = json.loads(json.dumps(before))
    expected["privacy"]["retention"]["inbox_days"] = 7
    assert after == expected

    bad = await api(
        stack,
        "PATCH",
        "/app/api/settings",
        admin,
        json={
            "bot": {"company_name": "Ромашка", "line_ids": [999]},
            "privacy": {"retention": {"logs_days": -1}},
        },
    )
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"bot.line_ids": "unknown_line", "privacy.retention.logs_days": "range"}
    assert (await api(stack, "GET", "/app/api/settings", employee)).json() == after  # nothing stored

    refused = await api(stack, "PATCH", "/app/api/settings", employee, json={"bot": {"company_name": "X"}})
    assert refused.status_code == 403


async def test_company_name_and_lines_set_on_the_page_reach_the_answer(stack: SandboxStack) -> None:
    admin = await _session(stack, ADMIN)
    lines = sorted(stack.portal.lines)
    assert len(lines) >= 2
    saved = await api(
        stack,
        "PATCH",
        "/app/api/settings",
        admin,
        json={"bot": {"company_name": "ООО «Ромашка»", "all_lines": False, "line_ids": [lines[1]]}},
    )
    assert saved.status_code == 200, saved.text
    msg = await stack.portal.customer_writes(
        "Здравствуйте! Какие у вас часы работы?", "anna", line_id=lines[1]
    )
    await stack.wait_reply(msg.chat_id, after_id=msg.id)
    systems = [json.dumps(r.body.get("system"), ensure_ascii=False) for r in stack.claude.requests]
    assert any("ООО «Ромашка»" in s for s in systems)
    assert not any("ООО «КофеТех»" in s for s in systems)  # the deployment's default is overridden


async def test_consents_recorded_on_the_page_are_listed(stack: SandboxStack) -> None:
    admin, employee = await _session(stack, ADMIN), await _session(stack, EMPLOYEE)
    assert (
        await api(stack, "PUT", "/app/api/consents/user:501", admin, json={"granted": True})
    ).status_code == 200
    bad = await api(stack, "PUT", "/app/api/consents/a%20b", admin, json={"granted": True})
    assert bad.status_code == 400 and bad.json()["fields"] == {"consent.client_key": "bad_client_key"}
    listed = (await api(stack, "GET", "/app/api/consents", employee)).json()["consents"]
    assert [(c["client_key"], c["granted"], c["source"]) for c in listed] == [
        ("user:501", True, f"admin:{ADMIN}")
    ]
    page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN))
    assert 'data-client="user:501"' in page.text
