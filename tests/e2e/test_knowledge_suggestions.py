"""The knowledge loop in the whole loop, through the CLI an admin uses: a question the base cannot
answer → an operator answers it in the Open Lines chat → ``kb suggestions`` lists it → ``approve`` →
the next customer asking it gets the answer from the base, with the entry's citation."""

from __future__ import annotations

import asyncio
import json
import os

from typer.testing import CliRunner

from b24claude.cli.main import app
from b24claude.cli.stack import SandboxStack
from tests.e2e.test_knowledge_loop import _last_citations
from tests.e2e.test_routing import handed_to_human

ANSWER = "Да, подарочные сертификаты на 1000, 3000 и 5000 рублей продаются на кассе любого нашего магазина."


async def _cli(stack: SandboxStack, *args: str) -> str:
    env = {**os.environ, **stack.app_env()}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["kb", "suggestions", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_an_operator_answer_becomes_an_faq_entry_that_answers_the_next_customer(
    stack: SandboxStack,
) -> None:
    declined = await stack.ask("Продаёте ли вы подарочные сертификаты?", "gleb")
    assert "специалист" in declined  # no passage good enough: declined
    assert json.loads(await _cli(stack, "--json")) == []  # no operator has answered yet

    msg = await stack.portal.customer_writes("позовите оператора", "gleb")
    await stack.wait_reply(msg.chat_id, after_id=msg.id)
    chat = stack.portal.chats[msg.chat_id]
    operator = await handed_to_human(stack, chat.session_id)
    await stack.portal.employee_writes(ANSWER, user_id=operator, chat_id=chat.id)

    listed = json.loads(await _cli(stack, "--json"))
    assert len(listed) == 1, listed
    suggestion = listed[0]
    assert "сертификат" in suggestion["question"] and suggestion["answer"] == ANSWER
    assert suggestion["status"] == "pending" and suggestion["questions"] == 1
    assert "suggestion-" in await _cli(stack, "approve", str(suggestion["id"]))
    assert json.loads(await _cli(stack, "--json")) == []  # decided: no longer pending

    reply = await stack.ask("А подарочный сертификат у вас можно купить?", "dina")
    assert "5000 рублей" in reply
    assert await _last_citations(stack, turns=3) == [f"suggestion-{suggestion['id']}"]


async def test_similar_unanswered_questions_make_one_suggestion_and_a_rejected_one_stays_out(
    stack: SandboxStack,
) -> None:
    for customer, question in (
        ("lev", "Продаёте ли вы подарочные сертификаты?"),
        ("mila", "Есть подарочные сертификаты?"),
    ):
        await stack.ask(question, customer)
        msg = await stack.portal.customer_writes("позовите оператора", customer)
        await stack.wait_reply(msg.chat_id, after_id=msg.id)
        chat = stack.portal.chats[msg.chat_id]
        operator = await handed_to_human(stack, chat.session_id)
        await stack.portal.employee_writes(ANSWER, user_id=operator, chat_id=chat.id)
    listed = json.loads(await _cli(stack, "--json"))
    assert len(listed) == 1 and listed[0]["questions"] == 2, listed
    await _cli(stack, "reject", str(listed[0]["id"]))
    assert json.loads(await _cli(stack, "--json")) == []
    reply = await stack.ask("Есть подарочные сертификаты?", "nina")
    assert "5000" not in reply  # a rejected suggestion never reaches the base


async def test_an_answer_with_a_customers_personal_data_is_not_published(stack: SandboxStack) -> None:
    await stack.ask("Продаёте ли вы подарочные сертификаты?", "rita")
    msg = await stack.portal.customer_writes("позовите оператора", "rita")
    await stack.wait_reply(msg.chat_id, after_id=msg.id)
    chat = stack.portal.chats[msg.chat_id]
    operator = await handed_to_human(stack, chat.session_id)
    personal = "Маргарита, да, сертификат на 5000 рублей. Перезвоню вам на +7 916 555-12-34."
    await stack.portal.employee_writes(personal, user_id=operator, chat_id=chat.id)
    [suggestion] = json.loads(await _cli(stack, "--json"))
    env = {**os.environ, **stack.app_env()}
    refused = await asyncio.to_thread(
        CliRunner().invoke, app, ["kb", "suggestions", "approve", str(suggestion["id"])], env=env
    )
    assert refused.exit_code != 0 and "personal data" in refused.output and "phone" in refused.output
    assert json.loads(await _cli(stack, "--json"))[0]["status"] == "pending"  # nothing published
    clean = "Да, подарочные сертификаты на 5000 рублей продаются во всех магазинах."
    assert "suggestion-" in await _cli(stack, "approve", str(suggestion["id"]), "--answer", clean)
    reply = await stack.ask("А подарочный сертификат у вас можно купить?", "dina")
    assert "5000 рублей" in reply and "916" not in reply and "Маргарита" not in reply
