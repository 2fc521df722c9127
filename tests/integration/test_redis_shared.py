"""What processes share through Redis: the per-portal leaky bucket and the cache."""

from __future__ import annotations

import asyncio
import time

import pytest

from b24claude.adapters.redis import RedisCache, RedisPortalThrottle, redis_client
from b24claude.kit.clock import SystemClock
from b24claude.ports.bitrix import ClientCard, CrmRefs, DealInfo


async def test_two_processes_fill_one_bucket_per_portal(redis_url: str, redis_prefix: str) -> None:
    """Two throttles on two connections ("two worker processes") keep one portal within X requests
    in flight + counted, and drain at the shared rate; another portal is not slowed."""
    clients = [redis_client(redis_url), redis_client(redis_url)]
    throttles = [
        RedisPortalThrottle(c, SystemClock(), rate_per_s=20.0, burst=6, margin=1, prefix=redis_prefix)
        for c in clients
    ]
    capacity = throttles[0].capacity  # 5
    started: list[float] = []

    async def request(throttle: RedisPortalThrottle) -> None:
        await throttle.acquire("portal-a")
        started.append(time.monotonic())
        level = await throttle.level("portal-a")
        assert level <= capacity + 1e-6, level
        await asyncio.sleep(0.01)
        throttle.release("portal-a")

    try:
        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(request(throttles[i % 2]) for i in range(25))), timeout=20)
        elapsed = time.monotonic() - t0
        # 25 requests through a bucket of 5 draining 20/s: at least (25 - 5) / 20 = 1 s.
        assert elapsed >= 0.9, elapsed
        other = await asyncio.wait_for(throttles[1].acquire("portal-b"), timeout=5)
        assert other == 0.0
        throttles[1].release("portal-b")
    finally:
        for t, c in zip(throttles, clients, strict=True):
            await t.aclose()
            await c.aclose()


async def test_a_dead_process_does_not_hold_the_bucket_for_ever(redis_url: str, redis_prefix: str) -> None:
    client = redis_client(redis_url)
    dead = RedisPortalThrottle(
        client, SystemClock(), rate_per_s=50.0, burst=3, margin=0, hold_s=0.5, prefix=redis_prefix
    )
    live = RedisPortalThrottle(
        client, SystemClock(), rate_per_s=50.0, burst=3, margin=0, hold_s=0.5, prefix=redis_prefix
    )
    try:
        for _ in range(3):
            await dead.acquire("p")  # never released: the process was killed mid-request
        waited = await asyncio.wait_for(live.acquire("p"), timeout=5)
        assert waited > 0.3  # it had to wait for the dead requests' hold to expire
        live.release("p")
    finally:
        await live.aclose()
        await client.aclose()


async def test_cache_round_trips_typed_cards_and_plain_values_and_expires(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis_client(redis_url)
    cache = RedisCache(client, prefix=redis_prefix, types=(ClientCard,))
    card = ClientCard(
        refs=CrmRefs(contact_id=5),
        kind="contact",
        name="[ИМЯ_1]",
        phones=("[ТЕЛЕФОН_1]",),
        open_deals=(DealInfo(id=7, title="Кофемашина", stage="NEW", amount=120000.0, currency="RUB"),),
        extra={"segment": "VIP"},
    )
    try:
        await cache.set("card:1", card, ttl_s=5)
        await cache.set("plain", {"a": [1, "два"]}, ttl_s=5)
        await cache.set("short", "x", ttl_s=0.2)
        other_client = redis_client(redis_url)  # another process
        other = RedisCache(other_client, prefix=redis_prefix, types=(ClientCard,))
        assert await other.get("card:1") == card
        assert await other.get("plain") == {"a": [1, "два"]}
        await asyncio.sleep(0.4)
        assert await other.get("short") is None
        await other.delete("card:1")
        assert await cache.get("card:1") is None
        raw = await client.get(redis_prefix + "plain")
        assert raw is not None and raw.startswith(b"json\n")  # JSON, never a pickle
        await other_client.aclose()
    finally:
        await client.aclose()


@pytest.mark.parametrize("value", [ClientCard(refs=CrmRefs())])
async def test_a_cache_without_the_type_registered_returns_nothing(
    redis_url: str, redis_prefix: str, value: ClientCard
) -> None:
    client = redis_client(redis_url)
    try:
        await RedisCache(client, prefix=redis_prefix, types=(ClientCard,)).set("k", value, ttl_s=5)
        assert await RedisCache(client, prefix=redis_prefix).get("k") is None
    finally:
        await client.aclose()
