"""Bad input at the edge: clear errors, no 500s, and nothing stored from a rejected request."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from b24claude.cli.stack import SandboxStack
from b24claude.kit import phpform
from tests.conftest import load_fixture


@pytest.fixture
async def v1_stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v1")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def _event(
    stack: SandboxStack, *, token: str | None = None, message_id: str = "777001"
) -> dict[str, Any]:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    body = copy.deepcopy(load_fixture("ONIMBOTMESSAGEADD_openlines.json")["body"])
    body["auth"]["member_id"] = stack.member_id
    body["auth"]["application_token"] = portal.application_token if token is None else token
    body["data"]["PARAMS"]["MESSAGE_ID"] = message_id
    body["data"]["USER"]["IS_CONNECTOR"] = "N"  # an operator's message: stored, then ignored (no reply)
    body["ts"] = str(int(time.time()))  # the fixture's own ts is long past: it would be a replay
    return dict(body)


async def _post(
    stack: SandboxStack, content: str | bytes, ctype: str = "application/x-www-form-urlencoded"
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.app_url}/b24/events", content=content, headers={"content-type": ctype}
        )


async def _inbox_total(stack: SandboxStack) -> int:
    assert stack.container is not None
    return sum((await stack.container.store.inbox.counts()).values())


async def test_valid_event_is_stored_once_even_when_delivered_twice(v1_stack: SandboxStack) -> None:
    before = await _inbox_total(v1_stack)
    body = phpform.encode(await _event(v1_stack))
    first, second = await _post(v1_stack, body), await _post(v1_stack, body)
    assert (first.status_code, first.json()["result"]) == (200, "stored")
    assert (second.status_code, second.json()["result"]) == (200, "duplicate")
    assert await _inbox_total(v1_stack) == before + 1


@pytest.mark.parametrize("token", ["", "0" * 32])
async def test_wrong_or_missing_application_token_is_401_and_stores_nothing(
    v1_stack: SandboxStack, token: str
) -> None:
    before = await _inbox_total(v1_stack)
    resp = await _post(v1_stack, phpform.encode(await _event(v1_stack, token=token)))
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized" and resp.json()["reason"]
    assert await _inbox_total(v1_stack) == before


@pytest.mark.parametrize(
    ("content", "ctype", "reason"),
    [
        ('{"event": "ONIMBOTMESSAGEADD"}', "application/json", "Content-Type"),
        ("event=ONIMBOTMESSAGEADD&data[a]=1&data[a][b]=2&auth[member_id]=x", None, "malformed"),
        ("event=ONIMBOTMESSAGEADD&auth[member_id]=x&data[PARAMS][MESSAGE]=%FF%FE%ED%A0%80", None, "UTF-8"),
        ("auth[member_id]=x&auth[application_token]=y", None, "event"),
        (b"event=\xff\xfe", None, "UTF-8"),
    ],
)
async def test_malformed_bodies_are_400_with_a_reason(
    v1_stack: SandboxStack, content: str | bytes, ctype: str | None, reason: str
) -> None:
    before = await _inbox_total(v1_stack)
    resp = await _post(v1_stack, content, ctype or "application/x-www-form-urlencoded")
    assert resp.status_code == 400
    assert reason in resp.json()["reason"]
    assert await _inbox_total(v1_stack) == before


async def test_unknown_event_is_acknowledged_and_ignored(v1_stack: SandboxStack) -> None:
    body = await _event(v1_stack)
    body["event"] = "ONCRMDEALUPDATE"
    before = await _inbox_total(v1_stack)
    resp = await _post(v1_stack, phpform.encode(body))
    assert (resp.status_code, resp.json()["result"]) == (200, "ignored")
    assert await _inbox_total(v1_stack) == before


async def test_oversize_body_is_413(v1_stack: SandboxStack) -> None:
    body = await _event(v1_stack)
    body["data"]["PARAMS"]["MESSAGE"] = "я" * (v1_stack.settings.max_body_bytes + 10)
    resp = await _post(v1_stack, phpform.encode(body))
    assert resp.status_code == 413


async def test_install_cannot_be_hijacked_with_another_application_token(v1_stack: SandboxStack) -> None:
    body = copy.deepcopy(load_fixture("ONAPPINSTALL.json")["body"])
    body["auth"]["member_id"] = v1_stack.member_id
    body["auth"]["application_token"] = "f" * 32
    body["ts"] = str(int(time.time()))
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{v1_stack.app_url}/b24/install",
            content=phpform.encode(body),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert resp.status_code == 401
    assert v1_stack.container is not None
    portal = await v1_stack.container.store.portals.get(v1_stack.member_id)
    assert portal is not None and portal.application_token != "f" * 32
    assert portal.auth.client_endpoint.startswith(v1_stack.portal.config.public_base_url or "http")
