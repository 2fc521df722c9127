"""The forged-install attacks, replayed against a running service and the emulators.

Each attack is what an outsider who can reach the install URL did before the fix: post an
ONAPPINSTALL for a portal that never sent it, naming endpoints of their own. A loopback listener
plays the attacker's server and records every request it gets; the tests prove that nothing is
stored, that no request reaches the listener, and that the client secret shows up in no URL, no log
line and no stored row — while a genuine install and reinstall still work in both bot API modes.
"""

from __future__ import annotations

import copy
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from b24claude.cli.stack import DEMO_CLIENT_SECRET, SandboxStack
from b24claude.kit import phpform
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import Portal
from b24claude.sandbox.server import ServerHandle
from tests.conftest import load_fixture
from tests.e2e.portals import inbox_total, message_event, post_event, second_portal

pytestmark = pytest.mark.e2e


@dataclass
class Listener:
    """The attacker's server: answers every REST call with ``expired_token`` (what made the old
    service refresh at the forged server_endpoint) and every OAuth call with fresh-looking tokens."""

    server: ServerHandle | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def app(self) -> Starlette:
        async def anything(request: Request) -> JSONResponse:
            body = await request.body()
            self.requests.append({"path": request.url.path, "url": str(request.url), "body": body})
            if request.url.path.startswith("/oauth/"):
                return JSONResponse({"access_token": "stolen", "refresh_token": "stolen", "expires_in": 3600})
            return JSONResponse(
                {"error": "expired_token", "error_description": "The access token provided has expired."}, 401
            )

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    spy = Listener()
    spy.server = ServerHandle(spy.app())
    await spy.server.start()
    try:
        yield spy
    finally:
        await spy.server.stop()


def forged_install(member_id: str, **auth: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(load_fixture("ONAPPINSTALL.json")["body"])
    body["ts"] = str(int(time.time()))
    body["auth"].update(
        {
            "member_id": member_id,
            "access_token": secrets.token_hex(16),
            "refresh_token": secrets.token_hex(16),
            "application_token": secrets.token_hex(16),
            **auth,
        }
    )
    return body


async def post_install(
    stack: SandboxStack, body: dict[str, Any], path: str = "/b24/install"
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.app_url}{path}",
            content=phpform.encode(body),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


async def portal_rows(stack: SandboxStack) -> list[tuple[Any, ...]]:
    assert stack.container is not None
    async with stack.container.store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM portals ORDER BY member_id"))
        return [tuple(r) for r in rows]


async def all_rows_text(stack: SandboxStack) -> str:
    """Every row of every table, as text (to look for a secret in it)."""
    assert stack.container is not None
    out: list[str] = []
    async with stack.container.store.engine.connect() as conn:
        tables = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        for (name,) in list(tables):
            for row in await conn.execute(text(f'SELECT * FROM "{name}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)


# --- a forged install for a portal the service has never seen ---------------------------------------


@pytest.mark.parametrize("path", ["/b24/install", "/b24/events"])
async def test_forged_install_naming_the_attackers_endpoints_stores_nothing_and_calls_nothing(
    stack: SandboxStack, listener: Listener, path: str
) -> None:
    before_rows, before_inbox = await portal_rows(stack), await inbox_total(stack)
    oauth_before = stack.portal.stats.oauth_requests
    body = forged_install(
        "f" * 32,
        domain="evil.example.com",
        client_endpoint=f"{listener.url}/rest/",
        server_endpoint=f"{listener.url}/rest/",
    )
    resp = await post_install(stack, body, path)
    assert resp.status_code == 401, resp.text
    assert "server_endpoint" in resp.json()["reason"]
    assert await portal_rows(stack) == before_rows and await inbox_total(stack) == before_inbox
    assert listener.requests == []
    assert stack.portal.stats.oauth_requests == oauth_before  # refused before any call at all


async def test_forged_install_with_a_plausible_oauth_server_is_refused_by_that_server(
    stack: SandboxStack, listener: Listener
) -> None:
    """The attacker copies the real server_endpoint; the OAuth server does not know the token."""
    before_rows, before_inbox = await portal_rows(stack), await inbox_total(stack)
    body = forged_install(
        "e" * 32,
        domain="evil.example.com",
        client_endpoint=f"{listener.url}/rest/",
        server_endpoint=stack.portal.server_endpoint,
    )
    resp = await post_install(stack, body)
    assert resp.status_code == 401 and "OAuth server refused" in resp.json()["reason"]
    assert await portal_rows(stack) == before_rows and await inbox_total(stack) == before_inbox
    assert listener.requests == []
    assert stack.portal.stats.oauth_secret_in_query == 0


async def test_another_portals_genuine_token_cannot_claim_this_portal(stack: SandboxStack) -> None:
    """A real token of portal B (our app installed there) posted as an install of portal A."""
    async with second_portal(stack) as other:
        assert stack.container is not None
        mine = await stack.container.store.portals.get(stack.member_id)
        assert mine is not None
        theirs = await stack.container.store.portals.get(other.member_id)
        assert theirs is not None
        refresh = theirs.auth.refresh_token  # B's live refresh token (the attacker is B's admin)
        body = forged_install(
            stack.member_id,
            domain=mine.domain,
            client_endpoint=mine.auth.client_endpoint,
            server_endpoint=stack.portal.server_endpoint,
            refresh_token=refresh,
        )
        resp = await post_install(stack, body)
        assert resp.status_code == 401 and "another portal" in resp.json()["reason"]
        after = await stack.container.store.portals.get(stack.member_id)
        assert after is not None
        assert (after.auth, after.application_token) == (mine.auth, mine.application_token)


async def test_forged_reinstall_of_a_known_portal_keeps_its_tokens(stack: SandboxStack) -> None:
    assert stack.container is not None
    mine = await stack.container.store.portals.get(stack.member_id)
    assert mine is not None
    body = forged_install(
        stack.member_id,
        domain=mine.domain,
        client_endpoint=mine.auth.client_endpoint,
        server_endpoint=stack.portal.server_endpoint,
    )
    resp = await post_install(stack, body)
    assert resp.status_code == 401
    after = await stack.container.store.portals.get(stack.member_id)
    assert after is not None
    assert (after.auth, after.application_token) == (mine.auth, mine.application_token)


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ({"client_endpoint": "x" * 5000}, "client_endpoint"),
        ({"client_endpoint": "https://169.254.169.254/rest/"}, "IP address"),
        ({"client_endpoint": "http://10.0.0.7:8080/rest/"}, "IP address"),
        ({"client_endpoint": "https://user:pw@evil.example.com/rest/"}, "credentials"),
        ({"client_endpoint": "https://evil.example.com:8443/rest/"}, "port"),
        ({"client_endpoint": "https://evil.example.com/rest/?x=1"}, "query"),
        ({"client_endpoint": "https://sandbox.bitrix24.ru/other/"}, "path"),
        ({"domain": "127.0.0.1"}, "IP address"),
        ({"domain": "2130706433"}, "IP address"),
        ({"domain": "intranet.local"}, "private"),
        ({"domain": "localhost"}, "local"),
        ({"domain": "evil.example.com", "client_endpoint": "https://other.bitrix24.ru/rest/"}, "<domain>"),
    ],
)
async def test_malformed_install_endpoints_are_400_before_any_call(
    stack: SandboxStack, listener: Listener, auth: dict[str, str], reason: str
) -> None:
    before_rows = await portal_rows(stack)
    oauth_before = stack.portal.stats.oauth_requests
    fields = {"domain": "sandbox.bitrix24.ru", "client_endpoint": "https://sandbox.bitrix24.ru/rest/", **auth}
    resp = await post_install(
        stack, forged_install("d" * 32, server_endpoint=stack.portal.server_endpoint, **fields)
    )
    assert resp.status_code == 400, resp.text
    assert reason in resp.json()["reason"]
    assert await portal_rows(stack) == before_rows
    assert stack.portal.stats.oauth_requests == oauth_before and listener.requests == []


# --- a forged portal already in the store (written before the fix) ---------------------------------


async def test_a_stored_forged_server_endpoint_is_never_called(
    stack: SandboxStack, listener: Listener
) -> None:
    """The old attack's second half: the forged client_endpoint answers expired_token; the refresh
    goes to the configured OAuth server, never to the stored server_endpoint, and the secret with it."""
    assert stack.container is not None
    member = "c" * 32
    await stack.container.store.portals.upsert(
        Portal(
            member,
            "evil.example.com",
            PortalAuth(
                member_id=member,
                client_endpoint=f"{listener.url}/rest/",
                access_token="a" * 32,
                refresh_token="r" * 32,
                expires_at=time.time() + 3600,
                server_endpoint=f"{listener.url}/rest/",
            ),
            application_token="t" * 32,
        )
    )
    with pytest.raises(Exception) as info:
        await stack.container.bitrix.call(member, "app.info")
    assert "refresh" in str(info.value)  # the configured server refused the forged refresh token
    assert [r["path"] for r in listener.requests] == ["/rest/app.info"]  # no /oauth/ request
    assert all(DEMO_CLIENT_SECRET.encode() not in r["body"] for r in listener.requests)
    assert all(DEMO_CLIENT_SECRET not in r["url"] for r in listener.requests)
    assert stack.portal.stats.oauth_secret_in_query == 0


# --- a genuine install and reinstall; the secret nowhere ---------------------------------------------


async def test_genuine_reinstall_replaces_tokens_and_the_loop_still_answers(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert stack.container is not None
    before = await stack.container.store.portals.get(stack.member_id)
    assert before is not None
    result = await stack.portal.install_app(
        client_id=stack.settings.b24_client_id,
        client_secret=DEMO_CLIENT_SECRET,
        install_url=f"{stack.app_url}/b24/install",
    )
    assert result.handler_status == 200, result.handler_error
    after = await stack.container.store.portals.get(stack.member_id)
    assert after is not None and after.installed
    assert after.auth.access_token != before.auth.access_token
    assert after.auth.refresh_token != before.auth.refresh_token
    # The tokens stored are the OAuth server's fresh pair, not the install's (spent by the exchange).
    assert after.auth.refresh_token != result.refresh_token
    assert after.auth.client_endpoint == stack.portal.client_endpoint
    # Tokens expire: the next answer needs a refresh at the configured server, with the secret in the body.
    stack.portal.expire_tokens()
    reply = await stack.ask("Здравствуйте! Сколько стоит доставка?", "reinstall-customer")
    assert reply
    assert stack.portal.stats.oauth_secret_in_query == 0
    assert stack.portal.stats.oauth_urls and all(
        DEMO_CLIENT_SECRET not in u for u in stack.portal.stats.oauth_urls
    )
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert DEMO_CLIENT_SECRET not in logged
    assert DEMO_CLIENT_SECRET not in await all_rows_text(stack)


# --- the small ones ----------------------------------------------------------------------------------


async def test_event_without_auth_is_401(stack: SandboxStack) -> None:
    body = message_event(stack.member_id, "x", message_id="990001")
    del body["auth"]
    before = await inbox_total(stack)
    resp = await post_event(stack, body)
    assert resp.status_code == 401 and "auth" in resp.json()["reason"]
    assert await inbox_total(stack) == before


async def test_percent_encoded_invalid_utf8_is_400_like_the_raw_bytes(stack: SandboxStack) -> None:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    good = phpform.encode(message_event(stack.member_id, portal.application_token, message_id="990002"))
    before = await inbox_total(stack)
    for bad in (good + "&data[PARAMS][X]=%FF%FE%ED%A0%80%00", good.encode() + b"&data[PARAMS][X]=\xff\xfe"):
        resp = await post_event(stack, bad)
        assert resp.status_code == 400 and "UTF-8" in resp.json()["reason"]
    assert await inbox_total(stack) == before


async def test_events_without_an_id_are_not_collapsed_into_one(stack: SandboxStack) -> None:
    """Two different events in the same second, neither with a MESSAGE_ID: both are stored; the same
    event delivered again is a duplicate."""
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    now = time.time()
    first = message_event(stack.member_id, portal.application_token, message_id="0", ts=now, text="первое")
    second = message_event(stack.member_id, portal.application_token, message_id="0", ts=now, text="второе")
    for body in (first, second):
        del body["data"]["PARAMS"]["MESSAGE_ID"]
    results = [(await post_event(stack, b)).json()["result"] for b in (first, second, first)]
    assert results == ["stored", "stored", "duplicate"]


# --- production mode: only public https portals ------------------------------------------------------


@pytest.fixture
async def production_stack() -> AsyncIterator[SandboxStack]:
    """The app with the sandbox switch off (as in production), the emulators beside it, not installed."""
    s = SandboxStack(bot_api="v2", settings_overrides={"sandbox": False})
    await s.start(install=False)
    try:
        yield s
    finally:
        await s.stop()


async def test_production_mode_refuses_loopback_portals(
    production_stack: SandboxStack, listener: Listener
) -> None:
    stack = production_stack
    oauth_before = stack.portal.stats.oauth_requests
    # Even a "real" install from an emulator on 127.0.0.1 is refused: only public https hosts.
    result = await stack.portal.install_app(
        client_id=stack.settings.b24_client_id,
        client_secret=DEMO_CLIENT_SECRET,
        install_url=f"{stack.app_url}/b24/install",
    )
    assert result.handler_status == 400, result.handler_error
    forged = forged_install("b" * 32, domain="evil.example.com", client_endpoint=f"{listener.url}/rest/")
    resp = await post_install(stack, forged)
    assert resp.status_code == 400 and "IP address" in resp.json()["reason"]
    assert await portal_rows(stack) == []
    assert listener.requests == [] and stack.portal.stats.oauth_requests == oauth_before
