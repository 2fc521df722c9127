"""Read batches of concurrent callers share ``batch`` requests (``coalesce_window_s``), over real
HTTP against the portal emulator: each caller gets its own results and errors under its own keys,
``$result`` references still resolve, and writes are never coalesced."""

from __future__ import annotations

import asyncio

import pytest

from b24claude.adapters.bitrix24.gateway import Bitrix24Gateway
from b24claude.errors import Bitrix24NotFound
from b24claude.ports.bitrix import CrmRefs
from tests.contract.test_bitrix24_client import portal, seed_contacts

pytestmark = pytest.mark.contract


async def test_concurrent_read_batches_share_requests_and_keep_their_own_results() -> None:
    async with portal() as env:
        client = env.client(coalesce_window_s=0.05)
        contacts = [c for c in env.state.crm[3].values() if int(c.get("COMPANY_ID") or 0)][:3]
        ids = seed_contacts(env.state, 40)

        async def reader(n: int) -> tuple[int, str, bool]:
            contact = contacts[n % len(contacts)]
            result = await client.batch(
                env.member_id,
                {
                    "contact": ("crm.contact.get", {"id": contact["ID"]}),
                    "company": ("crm.company.get", {"id": "$result[contact][COMPANY_ID]"}),
                    "missing": ("crm.deal.get", {"id": 999_999}),
                    "other": ("crm.contact.get", {"id": ids[n]}),
                },
            )
            company = env.state.crm[4][int(contact["COMPANY_ID"])]
            assert result.get("company")["TITLE"] == company["TITLE"]
            assert isinstance(result.errors["missing"], Bitrix24NotFound)
            assert set(result.result) == {"contact", "company", "other"}
            return int(result.get("other")["ID"]), result.get("contact")["ID"], "missing" in result.errors

        before = env.rest_calls()
        got = await asyncio.gather(*(reader(n) for n in range(30)))
        # 30 callers x 4 sub-calls = 120 sub-calls: 12 callers fit under 50, so 3 requests, not 30.
        assert env.rest_calls() - before == 3
        assert [g[0] for g in got] == ids[:30]
        assert client.stats.coalesced == 27

        # Without the window, the same cost one request per caller.
        plain = env.client()
        before = env.rest_calls()
        await asyncio.gather(
            *(plain.batch(env.member_id, {"c": ("crm.contact.get", {"id": i})}) for i in ids[:5])
        )
        assert env.rest_calls() - before == 5


async def test_writes_and_halting_batches_are_not_coalesced() -> None:
    async with portal() as env:
        client = env.client(coalesce_window_s=0.05)
        ids = seed_contacts(env.state, 4)
        before = env.rest_calls()
        await asyncio.gather(
            *(
                client.batch(env.member_id, {"u": ("crm.contact.update", {"id": i, "fields": {"POST": "x"}})})
                for i in ids
            ),
            client.batch(env.member_id, {"h": ("crm.contact.get", {"id": ids[0]})}, halt=True),
        )
        assert env.rest_calls() - before == 5
        assert client.stats.coalesced == 0


async def test_many_dialogues_loading_their_cards_at_once_cost_few_requests() -> None:
    async with portal() as env:
        client = env.client(coalesce_window_s=0.05)
        gateway = Bitrix24Gateway(client)
        contact_ids = sorted(env.state.crm[3])[:10]
        before = env.rest_calls()
        cards = await asyncio.gather(
            *(gateway.load_client(env.member_id, CrmRefs(contact_id=c)) for c in contact_ids * 4)
        )
        assert [c.refs.contact_id for c in cards] == contact_ids * 4
        assert all(c.name for c in cards)
        assert env.rest_calls() - before < len(cards) // 4
