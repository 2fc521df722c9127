"""A bad hour: Claude overloaded, timing out, down for a minute, out of budget; the portal refusing
context reads. Every customer message gets exactly one answer — Claude's, or a prepared one with a
human operator brought in and an admin told — and no inbox row ends failed.

Asserted on what the emulated portal's customers saw, the sessions' operators and the
notifications the portal's admin received.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from b24claude.cli.stack import SandboxStack
from b24claude.routing.schemas import PREPARED
from b24claude.sandbox.claude import ClaudeState
from tests.e2e.conftest import bot_replies

pytestmark = pytest.mark.e2e

PREPARED_TEXTS = {t for texts in PREPARED.values() for t in texts.values()}
FAST_FAILOVER = {
    "llm_timeout_s": 1.0,  # a request hanging longer than this is a timeout
    "llm_max_retry_after_s": 0.2,
    "llm_breaker_cooldown_s": 0.5,
}


@pytest.fixture(params=["v2", "v1"])
async def fault_stack(request: pytest.FixtureRequest) -> AsyncIterator[SandboxStack]:
    s = SandboxStack(
        bot_api=request.param,
        rate_limit_per_s=100.0,  # the portal's limit is not what these tests are about
        burst=500,
        claude=ClaudeState(chaos_timeout_s=3.0),
        settings_overrides=dict(FAST_FAILOVER),
    )
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def dialogue(stack: SandboxStack, customer: str, texts: list[str]) -> list[str]:
    """One customer writing message after message, each after the previous answer arrived."""
    replies = []
    for text in texts:
        replies.append(await stack.ask(text, customer, timeout=60))
    return replies


async def no_failed_rows(stack: SandboxStack) -> None:
    assert stack.container is not None
    for _ in range(100):
        counts = await stack.container.store.inbox.counts()
        if not counts.get("pending") and not counts.get("processing"):
            break
        await asyncio.sleep(0.05)
    assert not counts.get("failed"), counts


def operator_of(stack: SandboxStack, chat_id: int) -> int:
    chat = stack.portal.chats[chat_id]
    return stack.portal.sessions[chat.session_id].operator_id


def chat_of(stack: SandboxStack, customer: str) -> int:
    uid = stack.portal.customers[customer]
    return next(c.id for c in stack.portal.chats.values() if c.customer_id == uid)


def message_calls(stack: SandboxStack) -> int:
    return sum(1 for r in stack.claude.requests if r.path == "/v1/messages")


async def test_overloaded_and_timing_out_claude_every_message_answered_once(
    fault_stack: SandboxStack,
) -> None:
    """30 % of calls answer 529, 10 % hang past the client's timeout; 24 customers write at once."""
    stack = fault_stack
    stack.claude.chaos = {"overloaded": 0.3, "timeout": 0.1}
    customers = [f"chaos-{i}" for i in range(24)]
    replies = await asyncio.gather(
        *(stack.ask("Здравствуйте! Сколько стоит доставка?", c, timeout=60) for c in customers)
    )
    await no_failed_rows(stack)
    for customer, reply in zip(customers, replies, strict=True):
        chat_id = chat_of(stack, customer)
        assert bot_replies(stack, chat_id) == [reply]  # one answer, never two
        if reply in PREPARED_TEXTS:  # Claude could not answer: a human has the dialogue now
            assert operator_of(stack, chat_id) not in stack.portal.bots
    model_answers = [r for r in replies if r not in PREPARED_TEXTS]
    # With 2 calls per model and a second model, most failures become model answers.
    assert len(model_answers) >= len(replies) // 2, replies


async def test_claude_down_for_a_minute_prepared_answers_and_handoffs_then_normal(
    fault_stack: SandboxStack,
) -> None:
    stack = fault_stack
    stack.claude.down_for(60)
    during = await asyncio.gather(*(stack.ask("Где мой заказ?", f"outage-{i}", timeout=30) for i in range(3)))
    assert all(r == PREPARED["ru"]["line"] for r in during)
    await no_failed_rows(stack)  # the handoff and the alert follow the reply
    operators = {operator_of(stack, chat_of(stack, f"outage-{i}")) for i in range(3)}
    assert not operators & set(stack.portal.bots), "each dialogue was passed to a human operator"
    admin_notes = [n for n in stack.portal.notifications if "Claude" in n["message"]]
    assert admin_notes and all(n["user_id"] == 1 for n in admin_notes)  # the installing admin
    calls_during = message_calls(stack)
    # The minute is over.
    stack.claude.advance(61)
    await asyncio.sleep(FAST_FAILOVER["llm_breaker_cooldown_s"] + 0.1)
    after = await stack.ask("What is the warranty on coffee machines?", "after-outage", timeout=30)
    assert after not in PREPARED_TEXTS
    assert message_calls(stack) > calls_during
    await no_failed_rows(stack)


async def test_breaker_stops_calling_a_model_that_keeps_failing() -> None:
    overrides = {**FAST_FAILOVER, "llm_breaker_cooldown_s": 600.0}
    async with SandboxStack(rate_limit_per_s=100.0, burst=500, settings_overrides=overrides) as stack:
        stack.claude.down_for(60)
        for i in range(6):
            assert (
                await stack.ask("Добрый день, вопрос по заказу", f"breaker-{i}", timeout=30) in PREPARED_TEXTS
            )
        # Each of the 2 models: 2 calls per message until its breaker opens after 3 failed messages;
        # then no call at all for the cooldown.
        assert message_calls(stack) == 2 * 2 * 3
        await no_failed_rows(stack)


async def test_spend_cap_is_an_alert_not_a_retry(fault_stack: SandboxStack) -> None:
    stack = fault_stack
    stack.claude.spend_cap_next(count=1)
    reply = await stack.ask("Здравствуйте, сколько стоит доставка?", "spend-cap", timeout=30)
    assert reply == PREPARED["ru"]["line"]
    await no_failed_rows(stack)
    assert message_calls(stack) == 1  # neither retried nor sent to the fallback model
    assert any("spend_limit" in n["message"] for n in stack.portal.notifications)
    await no_failed_rows(stack)


@pytest.mark.parametrize(
    ("method", "status", "error"),
    [
        ("imopenlines.dialog.get", 400, "ACCESS_DENIED"),
        ("batch", 500, "INTERNAL_SERVER_ERROR"),
        ("crm.duplicate.findbycomm", 503, "SERVICE_UNAVAILABLE"),
    ],
)
async def test_failing_context_reads_never_cost_the_answer(
    fault_stack: SandboxStack, method: str, status: int, error: str
) -> None:
    stack = fault_stack
    stack.portal.inject_fault(method, status=status, error=error, description="injected", times=20)
    reply = await stack.ask(
        "Здравствуйте! Мой телефон +7 916 555-44-33, где заказ?", f"ctx-{method}", timeout=30
    )
    assert reply and reply not in PREPARED_TEXTS
    await no_failed_rows(stack)


async def test_tokens_expiring_mid_run_are_refreshed_never_final(fault_stack: SandboxStack) -> None:
    """The portal expires every token again and again while 40 customers write: each expired token
    is refreshed (single-flight) and the call retried; nothing fails, nobody is left unanswered."""
    stack = fault_stack
    stop = asyncio.Event()

    async def expire_often() -> None:
        while not stop.is_set():
            stack.portal.expire_tokens()
            await asyncio.sleep(0.05)

    expirer = asyncio.create_task(expire_often())
    try:
        replies = await asyncio.gather(
            *(
                stack.ask("Здравствуйте! Сколько стоит доставка?", f"expiry-{i}", timeout=60)
                for i in range(40)
            )
        )
    finally:
        stop.set()
        await expirer
    await no_failed_rows(stack)
    assert all(r and r not in PREPARED_TEXTS for r in replies)
    assert stack.container is not None and stack.container.bitrix.stats.refreshes > 1


async def test_a_send_that_keeps_failing_is_dead_lettered_then_replayed_once() -> None:
    """The portal refuses every send: after the retry budget the row is a dead letter, listed with its
    reason by `b24claude inbox list`; `inbox replay` once the portal is well answers it exactly once."""
    overrides = {**FAST_FAILOVER, "inbox_max_attempts": 2}
    async with SandboxStack(rate_limit_per_s=100.0, burst=500, settings_overrides=overrides) as stack:
        stack.portal.inject_fault("imbot.v2.Chat.Message.send", status=500, times=1000)
        msg = await stack.portal.customer_writes("Здравствуйте! Сколько стоит доставка?", "dead-letter")
        assert stack.container is not None
        # Two attempts with their backoff: about 10 s on a quiet machine, more on a loaded one.
        for _ in range(1200):
            if (await stack.container.store.inbox.counts()).get("failed"):
                break
            await asyncio.sleep(0.05)
        assert (await stack.container.store.inbox.counts()).get("failed") == 1, "the row never became a dead letter"
        env = {**os.environ, **stack.app_env()}
        listed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "b24claude.cli.main", "inbox", "list", "--status", "failed"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "failed\tONIMBOTV2MESSAGEADD" in listed.stdout and "Bitrix24TransientError" in listed.stdout
        assert bot_replies(stack, msg.chat_id) == []
        stack.portal.faults.clear()  # the portal is well again
        replayed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "b24claude.cli.main", "inbox", "replay", "--all-failed"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "replayed / повторено: 1" in replayed.stdout
        reply = await stack.wait_reply(msg.chat_id, after_id=msg.id, timeout=30)
        await no_failed_rows(stack)
        assert bot_replies(stack, msg.chat_id) == [reply]
