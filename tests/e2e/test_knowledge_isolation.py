"""Portal A's knowledge base never reaches portal B: the same question, asked in both portals' Open
Lines, is answered from A's document in A and declined in B; B's request to Claude carries none of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import system_text
from tests.e2e.portals import second_portal

QUESTION = "Сколько стоит аренда гироскутера?"


async def _reply(state: Any, chat_id: int, after_id: int, is_bot: Any) -> str:
    for _ in range(600):
        replies = [m for m in state.customer_view(chat_id) if m["id"] > after_id and is_bot(m)]
        if replies:
            return str(replies[0]["text"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reply in chat {chat_id}")


async def test_a_portals_document_is_never_used_for_another_portal(
    stack: SandboxStack, tmp_path: Path
) -> None:
    assert stack.container is not None
    folder = tmp_path / "a-base"
    folder.mkdir()
    (folder / "gyro.md").write_text(
        "# Аренда гироскутера\n\nАренда гироскутера стоит 1111 рублей в сутки.\n", encoding="utf-8"
    )
    await stack.container.kb.sync(stack.member_id, folder)

    in_a = await stack.ask(QUESTION, "olga")
    assert "1111" in in_a

    async with second_portal(stack) as b:
        for _ in range(400):  # the bot is registered by the install's processing, a moment later
            bots = list(b.state.bots.values())
            if bots:
                break
            await asyncio.sleep(0.05)
        assert bots, "the app registered no bot in portal B"
        for line in b.state.lines.values():  # B's admin routes the line to the bot, as in A
            line.welcome_bot_enable = True
            line.welcome_bot_id = bots[0].id
        msg = await b.state.customer_writes(QUESTION, "olga")
        in_b = await _reply(b.state, msg.chat_id, msg.id, lambda m: m.get("author_id") == bots[0].id)
        assert "1111" not in in_b and "нет ответа" in in_b
        calls = [
            r.body
            for r in stack.claude.requests
            if r.path == "/v1/messages" and "output_config" not in r.body
        ]
        b_calls = [c for c in calls if QUESTION in str(c.get("messages")) and "1111" not in system_text(c)]
        assert b_calls, "portal B's question never reached Claude"
        assert not any("gyro.md" in system_text(c) for c in b_calls)
    # And A still answers from its own base.
    assert "1111" in await stack.ask("А сколько стоит аренда гироскутера на сутки?", "ivan")
