"""No starvation: a very busy dialogue holds one worker slot at a time, so the others keep being
answered; an urgent message written behind a backlog goes ahead of it.

Asserted on the order of the replies as the portal recorded them (its message ids rise with time),
never on durations.
"""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies


def reply_ids(stack: SandboxStack, customer: dict[str, str]) -> list[int]:
    chat = stack.portal.find_chat(customer)
    assert chat is not None
    return [m["id"] for m in stack.portal.customer_view(chat.id) if stack.is_bot(m)]


async def wait_replies(
    stack: SandboxStack, wanted: dict[str, int], customers: dict[str, dict[str, str]]
) -> None:
    for _ in range(1200):
        if all(len(reply_ids(stack, customers[k])) >= n for k, n in wanted.items()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not every reply came")


async def test_a_busy_dialogue_does_not_starve_the_others() -> None:
    stack = SandboxStack(settings_overrides={"worker_concurrency": 2, "coalesce_max_messages": 1})
    await stack.start()
    try:
        stack.claude.latency = 0.2
        busy = {"key": "busy-one", "name": "Занятой"}
        others = {f"o{i}": {"key": f"other-{i}", "name": f"Клиент{i}"} for i in range(4)}
        for m in range(12):
            await stack.portal.customer_writes(f"Вопрос номер {m} от занятого клиента", busy)
        for c in others.values():
            await stack.portal.customer_writes("Когда вы работаете?", c)
        await wait_replies(stack, {"busy": 12, **dict.fromkeys(others, 1)}, {"busy": busy, **others})
        last_busy = max(reply_ids(stack, busy))
        # Written after all twelve, yet each answered while the busy dialogue still had a backlog.
        assert all(reply_ids(stack, c)[0] < last_busy for c in others.values())
        chat = stack.portal.find_chat(busy)
        assert chat is not None and len(bot_replies(stack, chat.id)) == 12
    finally:
        await stack.stop()


async def test_an_urgent_message_goes_ahead_of_the_ordinary_backlog() -> None:
    stack = SandboxStack(
        settings_overrides={"worker_concurrency": 1, "priority_aging_s": 3600.0, "coalesce_max_messages": 1}
    )
    await stack.start()
    try:
        stack.claude.latency = 0.2
        ordinary = {f"o{i}": {"key": f"queue-{i}", "name": f"Клиент{i}"} for i in range(10)}
        urgent = {"key": "urgent-1", "name": "Срочный"}
        for c in ordinary.values():
            await stack.portal.customer_writes("Подскажите про доставку", c)
        await stack.portal.customer_writes("Срочно! Заказ не пришёл", urgent)
        await wait_replies(stack, {"u": 1, **dict.fromkeys(ordinary, 1)}, {"u": urgent, **ordinary})
        urgent_at = reply_ids(stack, urgent)[0]
        after = [k for k, c in ordinary.items() if reply_ids(stack, c)[0] > urgent_at]
        # Last in, yet answered before most of the ordinary messages waiting ahead of it.
        assert len(after) >= 6, (len(after), urgent_at)
    finally:
        await stack.stop()
