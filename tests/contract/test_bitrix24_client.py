"""Bitrix24Client and Bitrix24Gateway against the portal emulator over real loopback HTTP.

Our clock and the emulator's are one object: tests that need time to pass either jump it (``sleep``
moves time instantly — sequential scenarios) or run it scaled (``speed`` x real time — concurrent
scenarios, where arrivals at the server must stay in step with our pacing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from b24claude.adapters.bitrix24 import Bitrix24Client, Bitrix24Gateway
from b24claude.errors import (
    Bitrix24AuthError,
    Bitrix24NotFound,
    Bitrix24OperationLimit,
    Bitrix24RateLimited,
    Bitrix24TransientError,
)
from b24claude.ports.bitrix import CrmRefs, PortalAuth
from b24claude.sandbox.portal import create_portal_app
from b24claude.sandbox.portal.crm import store_new
from b24claude.sandbox.portal.state import PortalConfig, PortalState
from b24claude.sandbox.server import ServerHandle

from .conftest import MemoryTokenStore

pytestmark = pytest.mark.contract

CLIENT_ID = "local.b24claude.test"
CLIENT_SECRET = "s3cret-for-tests"


class SharedClock:
    """``Clock`` for the client and the emulator's ``clock`` callable at once."""

    def __init__(self, *, speed: float | None = None, start: float = 1_766_000_000.0) -> None:
        self._start = start
        self._offset = 0.0
        self._speed = speed
        self._real0 = time.monotonic()

    def now(self) -> float:
        elapsed = (time.monotonic() - self._real0) * self._speed if self._speed else 0.0
        return self._start + self._offset + elapsed

    def monotonic(self) -> float:
        return self.now()

    async def sleep(self, seconds: float) -> None:
        if self._speed:
            await asyncio.sleep(max(0.0, seconds) / self._speed)
        else:
            self._offset += max(0.0, seconds)
            await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass
class Env:
    state: PortalState
    clock: SharedClock
    store: MemoryTokenStore
    base_url: str
    member_id: str
    http: httpx.AsyncClient
    clients: list[Bitrix24Client] = field(default_factory=list)

    def client(self, **options: Any) -> Bitrix24Client:
        client = Bitrix24Client(
            self.store,
            oauth_client_id=CLIENT_ID,
            oauth_client_secret=CLIENT_SECRET,
            oauth_url=self.base_url,
            http=self.http,
            clock=self.clock,
            allow_loopback=True,  # the emulator listens on http://127.0.0.1
            **options,
        )
        self.clients.append(client)
        return client

    def rest_calls(self) -> int:
        return self.state.stats.rest_calls


@asynccontextmanager
async def portal(*, speed: float | None = None) -> AsyncIterator[Env]:
    clock = SharedClock(speed=speed)
    state = PortalState(PortalConfig(clock=clock.now))
    async with ServerHandle(create_portal_app(state)) as server:
        state.config.public_base_url = server.base_url
        install = await state.install_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        store = MemoryTokenStore(
            PortalAuth(
                member_id=install.member_id,
                client_endpoint=install.client_endpoint,
                access_token=install.access_token,
                refresh_token=install.refresh_token,
                expires_at=clock.now() + install.expires_in,
                server_endpoint=install.server_endpoint,
            )
        )
        async with httpx.AsyncClient() as http:
            yield Env(state, clock, store, server.base_url, install.member_id, http)
        await state.aclose()


def seed_contacts(state: PortalState, count: int) -> list[int]:
    return [store_new(state, 3, {"NAME": f"Bulk{i}", "LAST_NAME": "Test"}) for i in range(count)]


# ----- calls, lists, batch ------------------------------------------------------------------------
async def test_call_returns_result_and_time() -> None:
    async with portal() as env:
        client = env.client()
        contact_id = min(env.state.crm[3])
        page = await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        assert page.result["ID"] == str(contact_id)
        assert "operating" in page.time
        assert client.stats.requests == 1 and client.stats.requests_by_method == {"crm.contact.get": 1}
        with pytest.raises(Bitrix24NotFound) as info:
            await client.call(env.member_id, "crm.contact.get", {"id": 999_999})
        assert info.value.code == "" and info.value.status == 400


async def test_list_paging_fast_and_classic_yield_everything() -> None:
    async with portal() as env:
        seed_contacts(env.state, 120)
        expected = sorted(env.state.crm[3])
        client = env.client()

        before = env.rest_calls()
        fast = [
            int(c["ID"])
            async for c in client.iter_list(env.member_id, "crm.contact.list", {"select": ["ID"]})
        ]
        fast_calls = env.rest_calls() - before
        assert fast == expected
        assert fast_calls == len(expected) // 50 + 1

        classic = [
            int(c["ID"])
            async for c in client.iter_list(env.member_id, "crm.contact.list", {"select": ["ID"]}, fast=False)
        ]
        assert sorted(classic) == expected

        items = [
            int(i["id"])
            async for i in client.iter_list(
                env.member_id, "crm.item.list", {"entityTypeId": 3, "select": ["id"]}
            )
        ]
        assert items == expected

        page = await client.call(env.member_id, "crm.contact.list", {"select": ["ID"]})
        assert page.total == len(expected) and page.next == 50


async def test_batch_with_result_reference() -> None:
    async with portal() as env:
        client = env.client()
        contact = next(c for c in env.state.crm[3].values() if int(c.get("COMPANY_ID") or 0))
        company = env.state.crm[4][int(contact["COMPANY_ID"])]
        before = env.rest_calls()
        result = await client.batch(
            env.member_id,
            {
                "contact": ("crm.contact.get", {"id": contact["ID"]}),
                "company": ("crm.company.get", {"id": "$result[contact][COMPANY_ID]"}),
                "missing": ("crm.deal.get", {"id": 999_999}),
            },
        )
        assert env.rest_calls() - before == 1
        assert result.get("company")["TITLE"] == company["TITLE"]
        assert isinstance(result.errors["missing"], Bitrix24NotFound)


async def test_batch_over_50_is_chunked() -> None:
    async with portal() as env:
        client = env.client()
        ids = seed_contacts(env.state, 60)
        before = env.rest_calls()
        result = await client.batch(env.member_id, {f"c{i}": ("crm.contact.get", {"id": i}) for i in ids})
        assert env.rest_calls() - before == 2
        assert {int(v["ID"]) for v in result.result.values()} == set(ids)


# ----- OAuth -------------------------------------------------------------------------------------
async def test_expired_token_is_refreshed_and_rotated_pair_saved() -> None:
    async with portal() as env:
        client = env.client()
        old = env.store.get(env.member_id)
        env.state.expire_tokens()
        page = await client.call(env.member_id, "user.current")
        assert page.result
        saved = env.store.get(env.member_id)
        assert saved.refresh_token != old.refresh_token and saved.access_token != old.access_token
        assert env.store.saves == [(env.member_id, saved.access_token, saved.refresh_token, saved.expires_at)]
        assert env.state.refresh_tokens[old.refresh_token].used
        assert client.stats.refreshes == 1 and env.state.stats.oauth_requests == 1
        assert env.state.stats.errors_by_code.get("expired_token") == 1


async def test_concurrent_expired_calls_share_one_refresh() -> None:
    async with portal() as env:
        client = env.client()
        env.state.expire_tokens()
        results = await asyncio.gather(*(client.call(env.member_id, "user.current") for _ in range(20)))
        assert len(results) == 20
        assert env.state.stats.oauth_requests == 1
        assert client.stats.refreshes == 1 and len(env.store.saves) == 1


async def test_refresh_shared_across_clients_via_store() -> None:
    """A second process (client) that fails with the old token picks up the pair the first saved."""
    async with portal() as env:
        first, second = env.client(), env.client()
        await second.call(env.member_id, "user.current")  # caches the current token
        env.state.expire_tokens()
        await first.call(env.member_id, "user.current")
        await second.call(env.member_id, "user.current")
        assert env.state.stats.oauth_requests == 1


async def test_known_expiry_refreshes_before_the_call() -> None:
    async with portal() as env:
        client = env.client()
        env.clock.advance(3601)
        await client.call(env.member_id, "user.current")
        assert env.state.stats.oauth_requests == 1
        assert "expired_token" not in env.state.stats.errors_by_code


async def test_dead_refresh_token_raises_auth_error() -> None:
    async with portal() as env:
        client = env.client()
        env.store.put(replace(env.store.get(env.member_id), refresh_token="dead"))
        env.state.expire_tokens()
        with pytest.raises(Bitrix24AuthError) as info:
            await client.call(env.member_id, "user.current")
        assert info.value.code == "invalid_grant"
        assert env.store.saves == []


# ----- rate discipline ---------------------------------------------------------------------------
async def test_burst_of_200_stays_under_the_server_bucket() -> None:
    async with portal(speed=100.0) as env:
        env.state.configure(rate_limit_per_s=2.0, burst=50)
        client = env.client(rate_per_s=2.0, burst=50)
        contact_id = min(env.state.crm[3])
        start = env.clock.now()
        results = await asyncio.gather(
            *(client.call(env.member_id, "crm.contact.get", {"id": contact_id}) for _ in range(200))
        )
        assert len(results) == 200
        assert env.state.stats.rejected_rate_limit == 0
        assert client.stats.query_limit_503 == 0
        assert client.stats.throttle_wait_s > 0
        # 48 at once, then 2 per second: about (200 - 48) / 2 seconds of portal time.
        assert env.clock.now() - start >= (200 - 48) / 2.0


async def test_injected_query_limit_is_retried() -> None:
    async with portal() as env:
        client = env.client()
        env.state.inject_fault(
            "crm.contact.get",
            status=503,
            error="QUERY_LIMIT_EXCEEDED",
            description="Too many requests",
            times=2,
        )
        contact_id = min(env.state.crm[3])
        page = await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        assert page.result["ID"] == str(contact_id)
        assert client.stats.query_limit_503 == 2 and client.stats.retries >= 2


async def test_persistent_query_limit_gives_up_after_max_wait() -> None:
    async with portal() as env:
        client = env.client(max_wait_s=10.0)
        env.state.inject_fault(
            None, status=503, error="QUERY_LIMIT_EXCEEDED", description="Too many requests", times=100
        )
        start = env.clock.now()
        with pytest.raises(Bitrix24RateLimited):
            await client.call(env.member_id, "user.current")
        assert env.clock.now() - start <= 10.0 + 50  # backoff ≤ max_wait plus paced sends
        assert client.stats.retry_wait_s <= 10.0


async def test_operation_time_limit_waits_until_reset() -> None:
    async with portal() as env:
        env.state.configure(operating_limit_s=0.0)  # any processing blocks the method for 10 minutes
        client = env.client(max_wait_s=900.0)
        contact_id = min(env.state.crm[3])
        await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        seen = client.operating(env.member_id, "crm.contact.get")
        assert seen is not None and seen.reset_at > env.clock.now()
        reset_at = seen.reset_at
        page = await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        assert page.result["ID"] == str(contact_id)
        assert env.state.stats.rejected_operating_limit == 1
        assert env.clock.now() >= reset_at
        assert client.stats.operation_limit_429 == 1


async def test_operation_time_limit_beyond_max_wait_raises_with_retry_after() -> None:
    async with portal() as env:
        env.state.configure(operating_limit_s=0.0)
        client = env.client(max_wait_s=30.0)
        contact_id = min(env.state.crm[3])
        await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        start = env.clock.now()
        with pytest.raises(Bitrix24OperationLimit) as info:
            await client.call(env.member_id, "crm.contact.get", {"id": contact_id})
        assert info.value.retry_after is not None and info.value.retry_after > 30.0
        assert env.clock.now() - start < 1.0  # no pointless wait
        # other methods are not blocked
        await client.call(env.member_id, "user.current")


async def test_server_errors_retried_for_reads_only() -> None:
    async with portal() as env:
        client = env.client()
        env.state.inject_fault("crm.contact.get", status=500, times=1)
        contact_id = min(env.state.crm[3])
        assert (await client.call(env.member_id, "crm.contact.get", {"id": contact_id})).result
        env.state.inject_fault("crm.contact.add", status=500, times=1)
        before = len(env.state.crm[3])
        with pytest.raises(Bitrix24TransientError):
            await client.call(env.member_id, "crm.contact.add", {"fields": {"NAME": "Once"}})
        assert len(env.state.crm[3]) == before
        assert env.state.stats.by_method["crm.contact.add"] == 1


async def test_network_error_on_write_is_not_retried() -> None:
    async with portal() as env:
        client = env.client()
        env.store.put(replace(env.store.get(env.member_id), client_endpoint="http://127.0.0.1:9/rest/"))
        with pytest.raises(Bitrix24TransientError):
            await client.call(env.member_id, "crm.contact.add", {"fields": {"NAME": "x"}})
        assert client.stats.requests == 1


# ----- webhook mode ------------------------------------------------------------------------------
async def test_webhook_mode() -> None:
    async with portal() as env:
        code = env.state.create_webhook(user_id=1)
        env.store.put(
            PortalAuth(member_id="hook", client_endpoint=f"{env.base_url}/rest/1/{code}/", webhook=True)
        )
        client = env.client()
        page = await client.call("hook", "crm.contact.list", {"select": ["ID"]})
        assert page.total == len(env.state.crm[3])
        batch = await client.batch("hook", {"me": ("user.current", {})})
        assert batch.ok("me")
        env.store.put(
            PortalAuth(member_id="bad", client_endpoint=f"{env.base_url}/rest/1/nope/", webhook=True)
        )
        with pytest.raises(Bitrix24AuthError) as info:
            await client.call("bad", "user.current")
        assert info.value.code == "NO_AUTH_FOUND"
        assert env.state.stats.oauth_requests == 0


# ----- gateway -----------------------------------------------------------------------------------
def _contact_with_open_deals(state: PortalState) -> dict[str, Any]:
    for contact in state.crm[3].values():
        deals = [d for d in state.crm[2].values() if d["CONTACT_ID"] == contact["ID"] and d["CLOSED"] == "N"]
        if deals and int(contact.get("COMPANY_ID") or 0):
            return contact
    raise AssertionError("seed has no contact with a company and open deals")


async def test_load_client_is_one_request() -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        contact = _contact_with_open_deals(env.state)
        open_deals = {
            int(d["ID"])
            for d in env.state.crm[2].values()
            if d["CONTACT_ID"] == contact["ID"] and d["CLOSED"] == "N"
        }
        before = env.rest_calls()
        card = await gateway.load_client(env.member_id, CrmRefs(contact_id=int(contact["ID"])))
        assert env.rest_calls() - before == 1
        assert card.kind == "contact"
        assert card.first_name == contact["NAME"] and contact["LAST_NAME"] in card.name
        assert card.company == env.state.crm[4][int(contact["COMPANY_ID"])]["TITLE"]
        assert card.refs.company_id == int(contact["COMPANY_ID"])
        assert card.phones == tuple(p["VALUE"] for p in contact["PHONE"])
        assert {d.id for d in card.open_deals} == open_deals and all(not d.closed for d in card.open_deals)


async def test_load_client_degrades_for_deleted_contact() -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        card = await gateway.load_client(env.member_id, CrmRefs(contact_id=999_999))
        assert card.kind == "unknown" and card.name == "" and card.open_deals == ()


async def test_find_by_comm_prefers_contact() -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        contact = next(c for c in env.state.crm[3].values() if c["PHONE"])
        refs = await gateway.find_by_comm(env.member_id, phone=contact["PHONE"][0]["VALUE"])
        assert refs.contact_id is not None
        assert any(
            p["VALUE"] == contact["PHONE"][0]["VALUE"] for p in env.state.crm[3][refs.contact_id]["PHONE"]
        )
        assert (await gateway.find_by_comm(env.member_id, email="nobody@nowhere.example")).is_empty()
        before = env.rest_calls()
        both = await gateway.find_by_comm(
            env.member_id, phone="+70000000000", email=contact["EMAIL"][0]["VALUE"]
        )
        assert both.contact_id is not None and env.rest_calls() - before == 1


async def test_openlines_refs_from_dialog() -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        await env.state.customer_writes("Здравствуйте!", "anna")  # anna matches a seeded contact by phone
        chat = env.state.find_chat("anna")
        assert chat is not None and chat.entity_data_2
        refs = await gateway.openlines_refs(env.member_id, chat.id)
        pairs = dict(
            zip(chat.entity_data_2.split("|")[0::2], chat.entity_data_2.split("|")[1::2], strict=True)
        )
        assert refs.contact_id == (int(pairs["CONTACT"]) or None)
        assert refs.lead_id == (int(pairs["LEAD"]) or None)
        assert refs.deal_id == (int(pairs["DEAL"]) or None)
        assert not refs.is_empty()


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_bot_register_is_idempotent_and_sends(api: str) -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        handler = "https://b24claude.example/bitrix/events" if api == "v1" else None
        bot = await gateway.register_bot(
            env.member_id,
            api=api,
            code="claude",
            name="Claude",  # type: ignore[arg-type]
            handler_url=handler,
        )
        again = await gateway.register_bot(
            env.member_id,
            api=api,
            code="claude",
            name="Claude",  # type: ignore[arg-type]
            handler_url=handler,
        )
        assert again == bot and bot.bot_id > 0 and len(env.state.bots) == 1
        await env.state.customer_writes("Нужна помощь", "anna")
        chat = env.state.find_chat("anna")
        assert chat is not None
        long_text = ("Абзац ответа. " * 1000 + "\n\n") * 2  # > 20 000 chars
        message_id = await gateway.send_message(
            env.member_id, bot, dialog_id=f"chat{chat.id}", text=long_text
        )
        mine = [m for m in env.state.chat_messages(chat.id) if m["author_id"] == bot.bot_id]
        assert len(mine) == 2 and mine[-1]["id"] == message_id
        recent = await gateway.recent_messages(env.member_id, bot, dialog_id=f"chat{chat.id}", limit=5)
        assert recent[-1].id == message_id and recent[-1].author_id == bot.bot_id


async def test_fetch_events_v2_and_acknowledge() -> None:
    async with portal() as env:
        gateway = Bitrix24Gateway(env.client())
        bot = await gateway.register_bot(
            env.member_id, api="v2", code="claude", name="Claude", handler_url=None
        )
        line = env.state.lines[1]
        line.welcome_bot_enable, line.welcome_bot_id = True, bot.bot_id
        await env.state.customer_writes("Сколько стоит доставка?", "ivan")
        first = await gateway.fetch_events(env.member_id, bot, offset=None)
        assert first.events and first.next_offset is not None and not first.has_more
        assert "ONIMBOTV2MESSAGEADD" in {e.type for e in first.events}
        message = next(e for e in first.events if e.type == "ONIMBOTV2MESSAGEADD")
        assert message.data["message"]["text"] == "Сколько стоит доставка?"
        again = await gateway.fetch_events(env.member_id, bot, offset=None)
        assert [e.event_id for e in again.events] == [e.event_id for e in first.events]  # not acked yet
        acked = await gateway.fetch_events(env.member_id, bot, offset=first.next_offset)
        assert acked.events == []
