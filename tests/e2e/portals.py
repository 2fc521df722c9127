"""Test helpers for more than one portal on one app, and for building what Bitrix24 posts."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from b24claude.cli.stack import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SCOPES, SandboxStack
from b24claude.kit import phpform
from b24claude.sandbox.portal import FramePost, PortalConfig, PortalState, create_portal_app
from b24claude.sandbox.server import ServerHandle
from tests.conftest import load_fixture

OTHER_MEMBER_ID = "b" * 32
OTHER_DOMAIN = "other.bitrix24.ru"


@dataclass
class Portal:
    state: PortalState
    member_id: str


@asynccontextmanager
async def second_portal(stack: SandboxStack) -> AsyncIterator[Portal]:
    """Another portal (its own emulator, domain and member_id) with the same app installed."""
    state = PortalState(PortalConfig(domain=OTHER_DOMAIN, member_id=OTHER_MEMBER_ID))
    server = ServerHandle(create_portal_app(state))
    await server.start()
    state.config.public_base_url = server.base_url
    # One OAuth server for all portals, as in Bitrix24: the first emulator (the app's configured one).
    stack.portal.link_oauth(state)
    try:
        result = await state.install_app(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            install_url=f"{stack.app_url}/b24/install",
            scopes=SCOPES,
        )
        assert result.handler_status == 200, result.handler_error
        yield Portal(state, result.member_id)
    finally:
        await server.stop()
        await state.aclose()


async def application_token(stack: SandboxStack, member_id: str) -> str:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(member_id)
    assert portal is not None
    return portal.application_token


def message_event(
    member_id: str, token: str, *, message_id: str, ts: float | None = None, text: str | None = None
) -> dict[str, Any]:
    """An operator's Open Lines message (stored, then ignored: no reply), as Bitrix24 posts it."""
    body: dict[str, Any] = copy.deepcopy(load_fixture("ONIMBOTMESSAGEADD_openlines.json")["body"])
    body["auth"]["member_id"] = member_id
    body["auth"]["application_token"] = token
    body["ts"] = str(int(time.time() if ts is None else ts))
    body["data"]["PARAMS"]["MESSAGE_ID"] = message_id
    body["data"]["USER"]["IS_CONNECTOR"] = "N"
    if text is not None:
        body["data"]["PARAMS"]["MESSAGE"] = text
    return body


async def post_event(stack: SandboxStack, body: dict[str, Any] | str | bytes) -> httpx.Response:
    content = phpform.encode(body) if isinstance(body, dict) else body
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.app_url}/b24/events",
            content=content,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


async def inbox_total(stack: SandboxStack) -> int:
    assert stack.container is not None
    return sum((await stack.container.store.inbox.counts()).values())


async def open_frame(
    stack: SandboxStack,
    post: FramePost,
    *,
    query: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
) -> httpx.Response:
    """POST the frame as Bitrix24 would (query + form), optionally with fields changed."""
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.app_url}/app",
            params={**post.query, **(query or {})},
            content=phpform.encode({**post.form, **(form or {})}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


def session_of(page: httpx.Response) -> str:
    match = re.search(r'<meta name="b24c-session" content="([^"]+)">', page.text)
    assert match, "the page carries no session"
    return match.group(1)


async def api(
    stack: SandboxStack, verb: str, path: str, token: str | None, json: Any = None, **kwargs: Any
) -> httpx.Response:
    headers = {
        **kwargs.pop("headers", {}),
        **({"Authorization": f"Bearer {token}"} if token is not None else {}),
    }
    async with httpx.AsyncClient() as http:
        return await http.request(verb, f"{stack.app_url}{path}", headers=headers, json=json, **kwargs)
