"""The service down for a while: what customers wrote meanwhile is answered after the restart.

imbot.v2 (fetch mode, the default): the portal keeps the bot's events until they are fetched and
acknowledged, so the restarted puller takes them up. Classic (v1) bots: Bitrix24 POSTs each event
once and never retries, so those deliveries fail for good; the restarted service reads the known
dialogues back (``im.dialog.messages.get`` from the newest message it holds) and answers what it
missed, once each and in order.
"""

from __future__ import annotations

import asyncio

import pytest

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies, customer_messages

DIALOGUES = 6


@pytest.mark.parametrize("bot_api", ["v2", "v1"])
async def test_messages_written_while_the_service_was_down_are_answered_after_restart(bot_api: str) -> None:
    stack = SandboxStack(
        bot_api=bot_api, settings_overrides={"coalesce_max_messages": 1}
    )  # one reply per message
    await stack.start()
    try:
        customers = [
            {"key": f"down-{bot_api}-{d}", "name": f"Клиент{d}", "last_name": "Тестов"}
            for d in range(DIALOGUES)
        ]
        for d in range(DIALOGUES):
            for m in range(3):
                stack.claude.script(f"[d{d}m{m}]", f"Ответ [d{d}m{m}]")
        for d, c in enumerate(customers):  # each dialogue is known to the service before it goes down
            assert await stack.ask(f"Вопрос [d{d}m0]", c) == f"Ответ [d{d}m0]"

        await stack.stop_app()
        for m in (1, 2):
            for d, c in enumerate(customers):
                await stack.portal.customer_writes(f"Вопрос [d{d}m{m}]", c)
        await stack.portal.wait_deliveries(10.0)
        if bot_api == "v1":  # pushed once, refused: nothing will ever deliver these again
            refused = [
                r for r in stack.portal.delivery_log if r.event == "ONIMBOTMESSAGEADD" and r.status != 200
            ]
            assert len(refused) == DIALOGUES * 2, refused
        for c in customers:
            chat = stack.portal.find_chat(c)
            assert chat is not None and len(bot_replies(stack, chat.id)) == 1

        await stack.start_app()
        for _ in range(600):
            done = [len(bot_replies(stack, stack.portal.find_chat(c).id)) for c in customers]  # type: ignore[union-attr]
            if all(n >= 3 for n in done):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a doubled answer would show up now
        for d, c in enumerate(customers):
            chat = stack.portal.find_chat(c)
            assert chat is not None
            assert customer_messages(stack, chat.id) == [f"Вопрос [d{d}m{m}]" for m in range(3)]
            assert bot_replies(stack, chat.id) == [f"Ответ [d{d}m{m}]" for m in range(3)], d
        assert stack.container is not None
        counts = await stack.container.store.inbox.counts()
        assert counts["failed"] == counts["pending"] == counts["processing"] == 0, counts
        if bot_api == "v1":
            assert stack.container.reconciler.recovered == DIALOGUES * 2
            # A second pass finds nothing new: every missed message is stored once.
            assert await stack.container.reconciler.run_once() == 0
    finally:
        await stack.stop()
