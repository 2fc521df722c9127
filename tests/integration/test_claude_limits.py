"""Client-side limits towards Claude, over real Redis and the Claude emulator.

Every process of a deployment spends one per-model budget (Anthropic counts per organisation), a
busy portal keeps to its share of it while others ask, a 429's ``retry-after`` holds back every
process, and a limit learned from the ``anthropic-ratelimit-*`` headers keeps the server's own 429
from ever being reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from b24claude.adapters.anthropic import ClaudeLLM
from b24claude.adapters.anthropic.limits import MemoryLimitCounters, ModelLimiter
from b24claude.adapters.redis import redis_client
from b24claude.adapters.redis.llm_limits import RedisLimitCounters
from b24claude.errors import LLMRateLimited
from b24claude.ports.llm import ChatTurn, LLMRequest
from b24claude.sandbox.claude.app import create_claude_app
from b24claude.sandbox.claude.state import DEFAULT_KEY, ClaudeState, Fault, RateLimits
from b24claude.sandbox.server import ServerHandle
from b24claude.settings import DEFAULT_PRICES

MODEL = "claude-sonnet-5-5"


class FakeClock:
    """Time that moves only when someone sleeps (one per simulated process)."""

    def __init__(self, t: float = 1_790_000_010.0) -> None:
        self.t = t
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
async def counters(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisLimitCounters]:
    client = redis_client(redis_url)
    try:
        yield RedisLimitCounters(client, prefix=redis_prefix + "llm:")
    finally:
        keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def claude() -> AsyncIterator[tuple[ClaudeState, str]]:
    state = ClaudeState()
    async with ServerHandle(create_claude_app(state)) as server:
        yield state, server.base_url


def llm(base_url: str, clock: FakeClock, limiter: ModelLimiter) -> ClaudeLLM:
    return ClaudeLLM(
        api_key=DEFAULT_KEY,
        base_url=base_url,
        default_model=MODEL,
        prices=DEFAULT_PRICES,
        timeout_s=10,
        max_attempts=4,
        max_retry_after_s=20,
        clock=clock,
        limiter=limiter,
    )


def ask(member_id: str = "portal-a", **kwargs: Any) -> LLMRequest:
    return LLMRequest(
        system="You are a helpful support agent.",
        messages=[ChatTurn("user", "Здравствуйте! Когда вы работаете?")],
        max_tokens=128,
        member_id=member_id,
        **kwargs,
    )


async def test_two_processes_share_one_window_and_a_busy_portal_keeps_to_its_share(
    counters: RedisLimitCounters,
) -> None:
    clock = FakeClock()  # frozen inside one window: nothing refills during the test
    one = ModelLimiter(counters, clock, rpm=10, max_wait_s=0)
    two = ModelLimiter(counters, clock, rpm=10, max_wait_s=0)  # another process, same Redis

    async def granted(limiter: ModelLimiter, member_id: str, tries: int) -> int:
        got = 0
        for _ in range(tries):
            try:
                await limiter.acquire(MODEL, tokens=100, member_id=member_id)
                got += 1
            except LLMRateLimited as exc:
                assert exc.retry_after is not None and 0 < exc.retry_after <= 60
        return got

    assert await granted(one, "busy", 3) == 3  # alone in the window: all it asks
    assert await granted(two, "quiet", 1) == 1  # a second portal arrives (through the other process)
    # Now the busy portal may hold half the window, whichever process it asks through.
    assert await granted(one, "busy", 5) + await granted(two, "busy", 5) == 2
    assert await granted(two, "quiet", 10) == 4  # the quiet one still has its half
    assert await granted(one, "third", 1) == 0  # and the window is spent for everyone


async def test_a_429_retry_after_holds_back_every_process(
    counters: RedisLimitCounters, claude: tuple[ClaudeState, str]
) -> None:
    state, base_url = claude
    state.faults.append(Fault(status=429, error_type="rate_limit_error", retry_after=7))
    clock_a, clock_b = FakeClock(), FakeClock()
    a = llm(base_url, clock_a, ModelLimiter(counters, clock_a))
    b = llm(base_url, clock_b, ModelLimiter(counters, clock_b))
    try:
        assert (await a.complete(ask())).text  # 429, waits its 7 s, then the answer
        assert clock_a.sleeps and clock_a.sleeps[0] >= 7
        assert (await b.complete(ask("portal-b"))).text
        # B never asked inside the 7 s: it waited on the block A recorded in Redis.
        assert sum(clock_b.sleeps) >= 7 - 0.01, clock_b.sleeps
        statuses = [r.status for r in state.requests if r.path == "/v1/messages"]
        assert statuses == [429, 200, 200], statuses
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_limit_learned_from_the_headers_keeps_the_server_from_answering_429(
    claude: tuple[ClaudeState, str],
) -> None:
    state, base_url = claude
    clock = FakeClock()
    state.clock = clock.now  # the emulator's buckets refill on the same (simulated) time
    state.rate_limits = RateLimits(requests=3)
    state.enforce_rate_limits = True
    state.reset_rate_limits()
    limiter = ModelLimiter(MemoryLimitCounters(), clock, max_wait_s=120)
    client = llm(base_url, clock, limiter)
    try:
        for _ in range(7):
            assert (await client.complete(ask())).text
        assert limiter.learned[MODEL][0] == 3  # from anthropic-ratelimit-requests-limit
        statuses = [r.status for r in state.requests if r.path == "/v1/messages"]
        assert statuses == [200] * 7, statuses  # we waited for windows instead of being refused
        assert limiter.waited_s >= 60
    finally:
        await client.aclose()
