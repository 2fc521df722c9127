"""Model routing and the monthly budget in the whole loop: a simple FAQ question goes to the cheap
model; at 100 % of the budget the admin's choice applies — cheap model only, or a handoff."""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from b24claude.routing.schemas import PREPARED
from tests.e2e.conftest import answer_requests


async def _set_usage(stack: SandboxStack, usage: dict[str, object]) -> None:
    assert stack.container is not None
    portals = stack.container.store.portals
    portal = await portals.get(stack.member_id)
    assert portal is not None
    await portals.update_settings(stack.member_id, {**portal.settings, "usage": usage})


async def test_simple_faq_on_the_cheap_model_complaint_on_the_strong_one(stack: SandboxStack) -> None:
    await stack.ask("Какие часы работы?", "Тимур")
    assert answer_requests(stack)[-1].body["model"] == "claude-haiku-5-5"
    await stack.ask("Мне прислали не тот цвет рамы, я недоволен", "Вера")
    assert answer_requests(stack)[-1].body["model"] == "claude-sonnet-5-5"


async def test_budget_spent_cheap_only_then_handoff(stack: SandboxStack) -> None:
    await stack.ask("Мне прислали не тот цвет рамы, я недоволен", "Вера")  # some spend on the ledger
    await _set_usage(stack, {"monthly_budget_usd": 0.000001, "over_budget": "cheap_only"})
    await stack.ask("Мне привезли не ту модель, я недоволен", "Зоя")
    assert answer_requests(stack)[-1].body["model"] == "claude-haiku-5-5"  # a complaint, yet the cheap model
    await _set_usage(stack, {"monthly_budget_usd": 0.000001, "over_budget": "handoff"})
    before = len(answer_requests(stack))
    reply = await stack.ask("Сколько стоит доставка по России?", "Лев")
    assert reply == PREPARED["ru"]["line"] and len(answer_requests(stack)) == before
    for _ in range(200):  # the alert follows the reply
        if any("spend_limit" in n["message"] for n in stack.portal.notifications):
            break
        await asyncio.sleep(0.05)
    assert any("spend_limit" in n["message"] for n in stack.portal.notifications)  # the admin is told
