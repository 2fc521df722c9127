"""Load and crash behaviour of the whole loop: a burst against the portal's limit; kill -9 and resume."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import text

from b24claude.cli.stack import SandboxStack
from b24claude.kit.clock import ScaledClock
from tests.e2e.conftest import bot_replies, customer_messages

QUESTIONS = (
    "Сколько стоит доставка по Москве?",
    "Какие способы оплаты?",
    "Можно оформить рассрочку?",
    "Как вернуть товар?",
)


@pytest.mark.parametrize("bot_api", ["v2", "v1"])
async def test_burst_of_200_messages_at_2_requests_per_second(bot_api: str) -> None:
    # Portal time and app time run 20x faster (one shared clock), so 2 req/s is real pressure
    # for ~5 s of wall time instead of ~2 minutes.
    clock = ScaledClock(20.0)
    # Every message is answered on its own here (coalescing off): this measures the throughput of
    # 200 answers under the portal's limit; coalescing has its own test (test_coalescing.py).
    stack = SandboxStack(
        bot_api=bot_api,
        clock=clock,
        rate_limit_per_s=2.0,
        burst=50,
        settings_overrides={"coalesce_max_messages": 1},
    )
    await stack.start()
    try:
        customers = [
            {
                "key": f"burst-{i}",
                "name": f"Клиент{i}",
                "last_name": "Тестов",
                "phone": f"+7 900 555-{i:02d}-{i:02d}",
            }
            for i in range(50)
        ]
        sent = 0
        for round_no in range(4):
            for c in customers:
                await stack.portal.customer_writes(QUESTIONS[round_no], c)
                sent += 1
        assert sent == 200
        assert stack.container is not None
        for _ in range(1200):
            counts = await stack.container.store.inbox.counts()
            replies = sum(
                len(bot_replies(stack, ch.id)) for c in customers if (ch := stack.portal.find_chat(c))
            )
            if replies >= 200 and counts.get("pending", 0) == 0 and counts.get("processing", 0) == 0:
                break
            await asyncio.sleep(0.05)
        per_chat = Counter()
        for c in customers:
            chat = stack.portal.find_chat(c)
            assert chat is not None
            assert len(customer_messages(stack, chat.id)) == 4
            per_chat[len(bot_replies(stack, chat.id))] += 1
        assert per_chat == Counter({4: 50}), per_chat  # every message answered exactly once
        counts = await stack.container.store.inbox.counts()
        assert counts.get("failed", 0) == 0
        # The client kept under the portal's bucket: nothing surfaced as a failure, and at most a
        # stray 503 was absorbed by the back-off (the steady state provokes none).
        assert stack.container.bitrix.stats.query_limit_503 == stack.portal.stats.rejected_rate_limit
        assert stack.portal.stats.rejected_rate_limit <= 2
    finally:
        await stack.stop()


@pytest.mark.parametrize("bot_api", ["v2", "v1"])
async def test_killed_process_resumes_pending_messages_and_answers_each_once(bot_api: str) -> None:
    stack = SandboxStack(bot_api=bot_api)
    await stack.start(install=False)
    await stack.stop_app()  # the app runs as a separate OS process below, so it can be killed
    proc = stack.spawn_app_process()
    try:
        await stack.wait_app_http()
        # Install into the real process, then make Claude slow so messages are still pending at the kill.
        await stack.install()
        stack.claude.latency = 1.5
        customers = [{"key": f"crash-{i}", "name": f"Гость{i}", "last_name": "Тестов"} for i in range(6)]
        for c in customers:
            await stack.portal.customer_writes("Какие у вас часы работы?", c)
        # v1: Bitrix24 POSTs each event once and never retries, so kill only after every delivery was
        # answered 200 (= committed to our inbox). v2: events stay in the portal's queue until we
        # acknowledge them with the next offset, so the kill may come at any moment.
        if bot_api == "v1":
            await stack.portal.wait_deliveries(20.0)
            failed = [d for d in stack.portal.delivery_log if d.status != 200]
            assert not failed, failed
        else:
            await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        answered_before = sum(len(bot_replies(stack, stack.portal.find_chat(c).id)) for c in customers)  # type: ignore[union-attr]
        assert answered_before < 6, "the kill came too late to prove anything"
        stack.claude.latency = 0.0
        proc = stack.spawn_app_process()
        await stack.wait_app_http()
        for _ in range(600):
            if all(len(bot_replies(stack, stack.portal.find_chat(c).id)) >= 1 for c in customers):  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a doubled answer would show up now
        for c in customers:
            chat = stack.portal.find_chat(c)
            assert chat is not None
            assert len(bot_replies(stack, chat.id)) == 1, c
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await stack.stop()


@pytest.mark.parametrize("crash_after", ["reply_recorded", "reply_sent"])
async def test_a_row_resumed_after_its_reply_keeps_the_reply_in_the_history(
    crash_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker dies after its reply went out (and, for ``reply_recorded``, after the reply effect
    was recorded done) but before the row was marked done; the row runs again. The next message of
    the dialogue is built from the history: without the first reply between the two questions,
    Claude sees both as one and answers the older one again (what the SIGKILL scale-out run showed
    once on a loaded machine: replies q1, q1 for questions q1, q2). One reply per message here:
    coalescing off (its own crash cases are in test_coalescing.py)."""
    stack = SandboxStack(settings_overrides={"coalesce_max_messages": 1})
    await stack.start()
    try:
        assert stack.container is not None
        effects = stack.container.store.effects
        record_done = effects.record_done
        crashed: list[int] = []

        async def record_done_then_die(inbox_id: int, kind: str, result: Mapping[str, Any]) -> None:
            if kind == "reply" and not crashed and crash_after == "reply_sent":
                crashed.append(inbox_id)
                raise RuntimeError("simulated crash: the reply was sent, its effect not recorded")
            await record_done(inbox_id, kind, result)
            if kind == "reply" and not crashed:
                crashed.append(inbox_id)
                raise RuntimeError("simulated crash: the reply effect recorded, the row not done")

        monkeypatch.setattr(effects, "record_done", record_done_then_die)
        for m in range(3):
            stack.claude.script(f"[r{m}]", f"Ответ [r{m}]")
        customer = {"key": f"resume-{crash_after}", "name": "Гость", "last_name": "Тестов"}
        for m in range(3):
            await stack.portal.customer_writes(f"Вопрос [r{m}]", customer)
        chat = stack.portal.find_chat(customer)
        assert chat is not None
        for _ in range(400):
            if len(bot_replies(stack, chat.id)) >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a doubled answer would show up now
        assert crashed, "the crash was never injected"
        assert bot_replies(stack, chat.id) == ["Ответ [r0]", "Ответ [r1]", "Ответ [r2]"]
        row = await stack.container.store.inbox.get(crashed[0])
        assert row is not None and row.status == "done" and row.attempts == 1, row
        # The stored history alternates, one reply after each question, none twice.
        async with stack.container.store.engine.connect() as conn:
            roles = (await conn.execute(text("SELECT role FROM dialogue_turns ORDER BY seq"))).scalars().all()
        assert roles == ["user", "assistant"] * 3
    finally:
        await stack.stop()
