"""The human in the loop in the whole loop (issue 9 part 4): moderation mode (approve / edit / reject,
what the customer saw each time, a draft surviving a restart, approval twice sending once), a customer's
rating and an operator's flag — asserted on the emulated portal's chats and on the store."""

from __future__ import annotations

import asyncio
from typing import Any

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies
from tests.e2e.test_routing import settle

MODERATOR = 3


async def moderate(stack: SandboxStack, **extra: Any) -> None:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    settings = {**portal.settings, "supervision": {"moderation": True, "moderators": [MODERATOR], **extra}}
    await stack.container.store.portals.update_settings(stack.member_id, settings)


def moderator_chat(stack: SandboxStack) -> int | None:
    bot_id = next(iter(stack.portal.bots))
    chat = next(
        (c for c in stack.portal.chats.values() if c.type == "P" and set(c.members) == {bot_id, MODERATOR}),
        None,
    )
    return chat.id if chat is not None else None


async def next_draft(stack: SandboxStack, seen: int = 0) -> dict[str, Any]:
    """The newest draft notice in the moderator's chat after ``seen`` notices."""
    for _ in range(600):
        chat_id = moderator_chat(stack)
        notices = [
            m
            for m in (stack.portal.chat_messages(chat_id) if chat_id else [])
            if stack.is_bot(m) and m["params"].get("KEYBOARD")
        ]
        if len(notices) > seen:
            return notices[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("no draft reached the moderator")


def draft_id(notice: dict[str, Any]) -> int:
    keyboard = notice["params"]["KEYBOARD"]
    return int(keyboard["BUTTONS"][0]["COMMAND_PARAMS"])


async def customer_reply(stack: SandboxStack, chat_id: int, count: int) -> list[str]:
    for _ in range(600):
        replies = bot_replies(stack, chat_id)
        if len(replies) >= count:
            return replies
        await asyncio.sleep(0.05)
    raise AssertionError(f"the customer got {bot_replies(stack, chat_id)}")


async def moderator_acks(stack: SandboxStack) -> list[str]:
    chat_id = moderator_chat(stack)
    assert chat_id is not None
    return [
        m["text"]
        for m in stack.portal.chat_messages(chat_id)
        if stack.is_bot(m) and not m["params"].get("KEYBOARD")
    ]


async def test_approve_survives_a_restart_and_twice_sends_once(stack: SandboxStack) -> None:
    await moderate(stack)
    asked = await stack.portal.customer_writes("Сколько стоит доставка по Москве?", "anna")
    notice = await next_draft(stack)
    assert "590" in notice["text"] and "Сколько стоит доставка" in notice["text"]
    assert bot_replies(stack, asked.chat_id) == []  # the customer sees nothing before the decision
    await stack.stop_app()  # a restart with the draft waiting
    await stack.start_app()
    pressed = stack.portal.press_button(notice["id"], "✅ Одобрить", user_id=MODERATOR)
    assert pressed["fired"] == "/approve"
    [reply] = await customer_reply(stack, asked.chat_id, 1)
    assert "590" in reply
    # The same decision again (typed this time): it is handled, nothing is sent twice.
    await stack.portal.employee_writes(
        f"/approve {draft_id(notice)}", user_id=MODERATOR, bot_id=None, chat_id=None
    )
    for _ in range(200):
        if any("уже обработан" in t for t in await moderator_acks(stack)):
            break
        await asyncio.sleep(0.05)
    acks = await moderator_acks(stack)
    assert any("отправлен клиенту" in t for t in acks) and any("уже обработан" in t for t in acks), acks
    assert bot_replies(stack, asked.chat_id) == [reply]
    assert stack.container is not None
    draft = await stack.container.store.supervision.get_draft(stack.member_id, draft_id(notice))
    assert draft is not None and draft.status == "approved" and draft.message_id


async def test_edit_sends_the_operators_text_and_keeps_the_example(stack: SandboxStack) -> None:
    await moderate(stack)
    asked = await stack.portal.customer_writes("Сколько стоит доставка по Москве?", "olga")
    notice = await next_draft(stack)
    put = stack.portal.press_button(notice["id"], "✏️ Исправить", user_id=MODERATOR)
    assert put == {"action": "PUT", "value": f"/edit {draft_id(notice)} "}  # the input field gets the prefix
    edited = "Доставка по Москве — 490 ₽, привезём завтра."
    await stack.portal.employee_writes(put["value"] + edited, user_id=MODERATOR, bot_id=None, chat_id=None)
    assert await customer_reply(stack, asked.chat_id, 1) == [edited]
    assert stack.container is not None
    [example] = await stack.container.supervision.examples(stack.member_id)  # type: ignore[union-attr]
    assert example.final == edited and "590" in example.draft and "доставка" in example.question.lower()
    # The correction is used: the next customer's similar question reaches the model with it as the
    # first knowledge passage, and the answer cites it.
    await moderate(stack, moderation=False)
    reply = await stack.ask("Подскажите, сколько стоит доставка по Москве?", "pavel")
    last = [r for r in stack.claude.requests if r.path == "/v1/messages"][-1]
    assert f'id="x{example.id}"' in str(last.body) and edited in str(last.body)
    assert "490" in reply


async def test_reject_hands_the_dialogue_to_the_operator(stack: SandboxStack) -> None:
    await moderate(stack)
    asked = await stack.portal.customer_writes("Сколько стоит доставка по Москве?", "pavel")
    notice = await next_draft(stack)
    stack.portal.press_button(notice["id"], "❌ Отклонить", user_id=MODERATOR)
    [reply] = await customer_reply(stack, asked.chat_id, 1)
    assert "специалист" in reply and "590" not in reply  # the draft never reached the customer
    session = stack.portal.sessions[stack.portal.chats[asked.chat_id].session_id]
    for _ in range(200):
        if session.operator_id == MODERATOR:
            break
        await asyncio.sleep(0.05)
    assert session.operator_id == MODERATOR


async def test_a_customers_rating_is_stored(stack: SandboxStack) -> None:
    reply = await stack.ask("Сколько стоит доставка по Москве?", "anna")
    chat = stack.portal.find_chat("anna")
    assert chat is not None and "590" in reply
    answer = next(m for m in stack.portal.customer_view(chat.id) if stack.is_bot(m))
    pressed = stack.portal.press_button(answer["id"], "👍 Полезно", user_id=stack.portal.customers["anna"])
    assert pressed["fired"] == "/rate"
    assert stack.container is not None
    for _ in range(200):
        ratings = await stack.container.store.supervision.feedback(stack.member_id, kind="rating")
        if ratings:
            break
        await asyncio.sleep(0.05)
    [rating] = ratings
    assert rating.score == 1 and rating.user_id == stack.portal.customers["anna"]
    assert rating.dialog_key == f"dlg:chat{chat.id}" and rating.target.startswith("row:")


async def test_an_operator_flags_the_bots_answer(stack: SandboxStack) -> None:
    await stack.ask("Сколько стоит доставка по Москве?", "anna")
    chat = stack.portal.find_chat("anna")
    assert chat is not None and stack.container is not None
    answer = next(m for m in stack.portal.customer_view(chat.id) if stack.is_bot(m))
    await stack.portal.employee_writes("/flag цена устарела", user_id=5, bot_id=None, chat_id=chat.id)
    await settle(stack, 3)
    for _ in range(200):
        flags = await stack.container.store.supervision.feedback(stack.member_id, kind="flag")
        if flags:
            break
        await asyncio.sleep(0.05)
    [flag] = flags
    assert (flag.user_id, flag.target, flag.note, flag.score) == (
        5,
        f"msg:{answer['id']}",
        "цена устарела",
        -1,
    )
    assert any(n["user_id"] == 5 and "помечен" in n["message"] for n in stack.portal.notifications)
