"""Coalescing in the whole loop: three quick messages get one answer that addresses all three; a kill -9
mid-burst and a restart still give one answer per burst, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies

BURST = (
    "Здравствуйте, у меня вопрос.",
    "Сколько стоит доставка по Москве?",
    "И какая гарантия на кофемашины?",
)


@pytest.fixture(params=["v2", "v1"])
async def quiet_stack(request: pytest.FixtureRequest) -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api=request.param, settings_overrides={"coalesce_window_s": 1.0})
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def _answer_calls(stack: SandboxStack) -> list[dict[str, object]]:
    return [
        r.body for r in stack.claude.requests if r.path == "/v1/messages" and "<knowledge>" in str(r.body)
    ]


async def _settled(stack: SandboxStack, chat_id: int, replies: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(bot_replies(stack, chat_id)) < replies:
        assert loop.time() < deadline, "no reply"
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)  # a second answer would show up now


async def test_three_quick_messages_get_one_answer_to_all_three(quiet_stack: SandboxStack) -> None:
    stack = quiet_stack
    msgs = [await stack.portal.customer_writes(t, "anna") for t in BURST]
    chat_id = msgs[0].chat_id
    await _settled(stack, chat_id, 1)
    replies = bot_replies(stack, chat_id)
    assert len(replies) == 1, replies
    # The model saw the three messages as one turn, in order, and answered both questions.
    calls = _answer_calls(stack)
    assert len(calls) == 1
    last_user = [m for m in calls[0]["messages"] if m["role"] == "user"][-1]  # type: ignore[index]
    content = str(last_user["content"])
    positions = [content.find(t) for t in BURST]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), content
    assert "24 месяца" in replies[0]  # the warranty
    assert "доставк" in replies[0].lower()  # the delivery
    # Every row is done; the later two point at the answer of the first.
    assert stack.container is not None
    async with stack.container.store.engine.connect() as conn:
        statuses = (await conn.execute(text("SELECT status FROM inbox ORDER BY id"))).scalars().all()
        pointers = (
            (await conn.execute(text("SELECT payload FROM effects WHERE kind = 'reply' AND status = 'done'")))
            .scalars()
            .all()
        )
    assert statuses and set(statuses) <= {"done", "ignored"}, statuses
    assert sum("coalesced_into" in str(p) for p in pointers) == 2


async def test_a_message_after_the_answer_starts_a_new_burst(quiet_stack: SandboxStack) -> None:
    stack = quiet_stack
    first = await stack.ask("Сколько стоит доставка по Москве?", "boris")
    second = await stack.ask("Какая гарантия на кофемашины?", "boris")
    assert first != second
    chat = stack.portal.find_chat("boris")
    assert chat is not None and len(bot_replies(stack, chat.id)) == 2


@pytest.mark.parametrize("bot_api", ["v2", "v1"])
async def test_a_kill_mid_burst_still_gives_one_answer_per_burst(bot_api: str) -> None:
    stack = SandboxStack(bot_api=bot_api, settings_overrides={"coalesce_window_s": 1.0})
    await stack.start(install=False)
    await stack.stop_app()  # the app runs as a separate OS process below, so it can be killed
    proc = stack.spawn_app_process()
    try:
        await stack.wait_app_http()
        await stack.install()
        stack.claude.latency = 2.0  # the burst is claimed and waiting for Claude at the kill
        customers = [{"key": f"kill-{i}", "name": f"Гость{i}", "last_name": "Тестов"} for i in range(3)]
        for c in customers:
            for t in BURST:
                await stack.portal.customer_writes(t, c)
        if bot_api == "v1":
            await stack.portal.wait_deliveries(20.0)
            assert all(d.status == 200 for d in stack.portal.delivery_log)
        await asyncio.sleep(2.0)  # quiet window over: bursts claimed, Claude busy
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        chats = [stack.portal.find_chat(c) for c in customers]
        assert all(ch is not None for ch in chats)
        answered_before = sum(len(bot_replies(stack, ch.id)) for ch in chats if ch)
        assert answered_before < 3, "the kill came too late to prove anything"
        stack.claude.latency = 0.0
        proc = stack.spawn_app_process()
        await stack.wait_app_http()
        for ch in chats:
            assert ch is not None
            await _settled(stack, ch.id, 1)
        for ch in chats:
            assert ch is not None
            assert len(bot_replies(stack, ch.id)) == 1, bot_replies(stack, ch.id)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await stack.stop()
