"""A message with only a photo or a file: the bot asks for words (no model call), and the file — its name
and link as the portal gives them — is in the operator's brief when the dialogue is later handed off.
Both bot API generations (the ``stack`` fixture): the files arrive in different places of the event."""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from tests.e2e.test_routing import claude_calls, handed_to_human


async def test_a_file_without_words_gets_a_request_for_words_and_goes_into_the_brief(
    stack: SandboxStack,
) -> None:
    msg = await stack.portal.customer_writes("", "anna", files=[{"name": "чек_покупки.jpg", "size": 48211}])
    reply = await stack.wait_reply(msg.chat_id, after_id=msg.id)
    assert "словами" in reply  # asks what the question is
    assert claude_calls(stack) == 0  # a rule answered: no model call
    link = stack.portal.chat_files[min(stack.portal.chat_files)]["urlShow"]

    before = max(stack.portal.chat_index[msg.chat_id])
    again = await stack.portal.customer_writes("позовите оператора", "anna")
    await stack.wait_reply(again.chat_id, after_id=before)
    chat = stack.portal.chats[again.chat_id]
    operator = await handed_to_human(stack, chat.session_id)
    for _ in range(200):
        briefs = [
            n for n in stack.portal.notifications if n["user_id"] == operator and "Хочет:" in n["message"]
        ]
        if briefs:
            break
        await asyncio.sleep(0.05)
    assert briefs, stack.portal.notifications
    assert "чек_покупки.jpg" in briefs[-1]["message"]
    assert link in briefs[-1]["message"]  # the operator can open it


async def test_a_file_with_a_question_is_answered_as_the_question(stack: SandboxStack) -> None:
    msg = await stack.portal.customer_writes(
        "Сколько стоит доставка по Москве?", "boris", files=[{"name": "адрес.pdf"}]
    )
    reply = await stack.wait_reply(msg.chat_id, after_id=msg.id)
    assert "словами" not in reply
    assert claude_calls(stack) >= 1


async def test_the_control_endpoint_takes_files_and_refuses_a_message_with_neither(
    stack: SandboxStack,
) -> None:
    import httpx

    base = stack.portal.base_url
    async with httpx.AsyncClient(base_url=base) as http:
        ok = await http.post(
            "/_sandbox/customer-message", json={"customer": "ivan", "files": [{"name": "a.png"}]}
        )
        assert ok.status_code == 200 and ok.json()["params"]["FILE_ID"]
        bad = await http.post("/_sandbox/customer-message", json={"customer": "ivan"})
        assert bad.status_code == 400 and "files" in bad.json()["reason"]
        bad = await http.post("/_sandbox/customer-message", json={"customer": "ivan", "files": [{"size": 1}]})
        assert bad.status_code == 400
