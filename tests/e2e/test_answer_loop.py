"""The whole loop: a customer writes in Open Lines → the app answers through Claude → the customer sees it."""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import answer_requests, bot_replies


async def test_known_client_gets_a_grounded_personal_answer(stack: SandboxStack) -> None:
    reply = await stack.ask("Здравствуйте! Сколько стоит доставка по Москве?", "anna")
    assert "Анна" in reply  # the CRM contact behind the chat was found
    assert "590" in reply  # grounded in the knowledge base passage about delivery
    chat = stack.portal.find_chat("anna")
    assert chat is not None
    # What reached Claude: the real SDK's request with the client card and the passage in the system prompt.
    messages_calls = answer_requests(stack)
    assert len(messages_calls) == 1
    call = messages_calls[0]
    assert call.headers.get("anthropic-version") == "2026-10-21"
    system = "".join(block["text"] for block in call.body["system"])
    # The client's name reached Claude only as a placeholder; the reply got the real name back.
    assert "Имя: [ИМЯ_1] [ИМЯ_2]" in system and "Анна" not in system
    assert "<knowledge>" in system and "Доставка" in system
    assert "temperature" not in call.body


async def test_history_is_kept_and_each_message_answered_once(stack: SandboxStack) -> None:
    await stack.ask("Добрый день, какие способы оплаты есть?", "stranger")
    await stack.ask("а рассрочку можно оформить?", "stranger")
    chat = stack.portal.find_chat("stranger")
    assert chat is not None
    assert len(bot_replies(stack, chat.id)) == 2
    last = answer_requests(stack)[-1]
    roles = [m["role"] for m in last.body["messages"]]
    assert roles == ["user", "assistant", "user"]  # the previous turns went to Claude
    # A new customer becomes a lead in Open Lines; the bot knew it from the chat's bindings.
    assert any(w.entity == "LEAD" for w in stack.portal.crm_writes)


async def test_own_and_system_messages_are_not_answered(stack: SandboxStack) -> None:
    await stack.ask("Привет! Какие часы работы?", "olga")
    chat = stack.portal.find_chat("olga")
    assert chat is not None
    before = len(answer_requests(stack))
    # An operator (employee, not the customer) writes into the Open Lines chat: not for the bot to answer.
    await stack.portal.employee_writes("Коллеги, беру клиента на себя", user_id=1, chat_id=chat.id)
    assert stack.container is not None
    # The event did arrive (the bot is the line's operator) and was processed as "ignored".
    for _ in range(200):
        if (await stack.container.store.inbox.counts()).get("ignored", 0) >= 1:
            break
        await asyncio.sleep(0.05)
    assert (await stack.container.store.inbox.counts()).get("ignored", 0) >= 1
    assert len(answer_requests(stack)) == before
    assert len(bot_replies(stack, chat.id)) == 1


async def test_token_expiry_mid_run_is_refreshed_transparently(stack: SandboxStack) -> None:
    await stack.ask("Сколько длится гарантия?", "ivan")
    assert stack.container is not None
    old = await stack.container.store.portals.load_auth(stack.member_id)
    stack.portal.expire_tokens()
    reply = await stack.ask("А на аксессуары какая гарантия?", "ivan")
    assert "6 месяцев" in reply
    new = await stack.container.store.portals.load_auth(stack.member_id)
    assert new.access_token != old.access_token
    assert new.refresh_token != old.refresh_token  # the rotated refresh token was saved
    assert stack.container.bitrix.stats.refreshes >= 1
    counts = await stack.container.store.inbox.counts()
    assert counts.get("failed", 0) == 0
