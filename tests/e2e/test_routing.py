"""Routing and handoff in the whole loop: a request for a human, a VIP's critical complaint, silence after
a handoff, and the prefilter's rules — asserted on what the emulated portal saw (sessions, tasks,
notifications, the customer's chat) and on what reached Claude."""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import answer_requests, bot_replies


def claude_calls(stack: SandboxStack) -> int:
    return len(answer_requests(stack))


async def handed_to_human(stack: SandboxStack, session_id: int) -> int:
    for _ in range(400):
        operator = stack.portal.sessions[session_id].operator_id
        if operator not in stack.portal.bots:
            return operator
        await asyncio.sleep(0.05)
    raise AssertionError("the dialogue stayed with the bot")


async def settle(stack: SandboxStack, rows: int) -> None:
    assert stack.container is not None
    for _ in range(400):
        counts = await stack.container.store.inbox.counts()
        if (
            counts.get("done", 0) + counts.get("ignored", 0) >= rows
            and not counts.get("pending")
            and not counts.get("processing")
        ):
            return
        await asyncio.sleep(0.05)


async def test_a_request_for_a_human_is_transferred_at_once_with_a_brief(stack: SandboxStack) -> None:
    await stack.ask("Сколько стоит доставка по Москве?", "anna")
    before = claude_calls(stack)
    reply = await stack.ask("позовите живого оператора пожалуйста", "anna")
    assert "специалист" in reply.lower()
    assert claude_calls(stack) == before  # the rule answered: no model call
    chat = stack.portal.find_chat("anna")
    assert chat is not None
    operator = await handed_to_human(stack, chat.session_id)
    await settle(stack, 3)
    assert operator in (5, 6, 7)  # support, from the line's queue
    briefs = [n for n in stack.portal.notifications if n["user_id"] == operator and "Хочет:" in n["message"]]
    assert briefs, stack.portal.notifications
    brief = briefs[-1]["message"]
    assert "позовите живого оператора" in brief and "Анна" in brief  # who, and what they want
    assert "590" in brief  # what the bot already said
    assert "contact" in brief  # the CRM link


async def test_a_vips_critical_complaint_goes_to_the_supervisor(stack: SandboxStack) -> None:
    await stack.ask("Добрый вечер, когда привезут мой заказ?", "anna")
    chat = stack.portal.find_chat("anna")
    assert chat is not None and stack.container is not None
    contact_id = stack.portal.sessions[chat.session_id].crm["CONTACT"]
    assert contact_id
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    settings = {**portal.settings, "routing": {"vip_contact_ids": [contact_id]}}
    await stack.container.store.portals.update_settings(stack.member_id, settings)
    reply = await stack.ask("Это безобразие! Курьер нагрубил, верните деньги, иначе пойду в суд", "anna")
    assert "старшему специалисту" in reply
    await handed_to_human(stack, chat.session_id)
    for _ in range(200):
        if stack.portal.tasks:
            break
        await asyncio.sleep(0.05)
    tasks = stack.portal.tasks
    assert len(tasks) == 1
    task = tasks[0]
    assert task["responsibleId"] == "5"  # the head of customer support (department.get UF_HEAD)
    assert task["priority"] == "2" and f"C_{contact_id}" in task["ufCrmTask"]
    assert "верните деньги" in task["description"]
    assert any(n["user_id"] == 5 and "escalation" in n["tag"] for n in stack.portal.notifications)
    assert stack.portal.sessions[chat.session_id].operator_id not in stack.portal.bots


async def test_the_bot_is_silent_after_a_handoff_until_a_new_session(stack: SandboxStack) -> None:
    # Two messages at once: both reach the bot (it is still the line's operator when they are written);
    # the second is handled after the handoff and must not be answered.
    first = await stack.portal.customer_writes("Соедините с менеджером", "olga")
    await stack.portal.customer_writes("Где мой заказ 1542?", "olga")
    await stack.wait_reply(first.chat_id, after_id=first.id)
    await handed_to_human(stack, stack.portal.chats[first.chat_id].session_id)
    await settle(stack, 2)
    await asyncio.sleep(0.5)
    assert len(bot_replies(stack, first.chat_id)) == 1
    assert claude_calls(stack) == 0
    # The operator closes the session; the customer's next message opens a new one with the bot.
    chat = stack.portal.chats[first.chat_id]
    stack.portal.sessions[chat.session_id].finished = stack.portal.now()
    again = await stack.portal.customer_writes("Подскажите, сколько стоит доставка?", "olga")
    reply = await stack.wait_reply(again.chat_id, after_id=again.id)
    assert "590" in reply and claude_calls(stack) == 1


async def test_rules_answer_greetings_and_thanks_and_drop_spam(stack: SandboxStack) -> None:
    assert "помочь" in await stack.ask("Здравствуйте!", "guest")
    assert "Пожалуйста" in await stack.ask("спасибо большое", "guest")
    assert "help" in await stack.ask("Hello", "guest")
    spam = await stack.portal.customer_writes(
        "Казино без вложений, заработок от 100к: http://a.ru http://b.ru", "guest"
    )
    await settle(stack, 4)
    await asyncio.sleep(0.3)
    assert claude_calls(stack) == 0
    assert all(m["id"] < spam.id for m in stack.portal.customer_view(spam.chat_id) if stack.is_bot(m))


async def test_employees_private_chats_are_off_by_default(stack: SandboxStack) -> None:
    await stack.portal.employee_writes("Сколько стоит доставка?", user_id=3, bot_id=None, chat_id=None)
    await settle(stack, 1)
    await asyncio.sleep(0.3)
    assert claude_calls(stack) == 0
