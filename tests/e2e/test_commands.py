"""Bot commands in the whole loop: registered at install in both bot API generations, and a customer's
/operator in Open Lines transferred to a human at once through routing's handoff (with the brief)."""

from __future__ import annotations

import asyncio

from b24claude.cli.stack import SandboxStack
from tests.e2e.test_routing import claude_calls, handed_to_human, settle


async def test_the_bots_commands_are_registered_at_install(stack: SandboxStack) -> None:
    assert stack.container is not None
    bot_id = next(b.id for b in stack.portal.bots.values())
    # The install's processing registers them one by one, just after the bot: wait for the last one.
    for _ in range(400):
        commands = {c["COMMAND"]: c for c in stack.portal.commands.values() if c["BOT_ID"] == bot_id}
        registered = await stack.container.store.bot_commands.registered(stack.member_id, bot_id)
        if commands and registered == {name: c["ID"] for name, c in commands.items()} and len(commands) >= 6:
            break
        await asyncio.sleep(0.05)
    assert "operator" in commands and not commands["operator"]["HIDDEN"]
    assert commands["operator"]["TITLE"]["ru"] == "Позвать оператора"
    if stack.bot_api == "v1":  # classic: ONIMCOMMANDADD is POSTed to our events URL
        assert commands["operator"]["HANDLER"] == f"{stack.app_url}/b24/events"
    registered = await stack.container.store.bot_commands.registered(stack.member_id, bot_id)
    assert registered == {name: c["ID"] for name, c in commands.items()}  # kept: a replay registers none again


async def test_operator_command_transfers_at_once_with_a_brief(stack: SandboxStack) -> None:
    await stack.ask("Сколько стоит доставка по Москве?", "anna")
    before = claude_calls(stack)
    reply = await stack.ask("/operator", "anna")
    assert "специалист" in reply.lower()
    assert claude_calls(stack) == before  # no model call
    chat = stack.portal.find_chat("anna")
    assert chat is not None
    operator = await handed_to_human(stack, chat.session_id)
    await settle(stack, 3)
    briefs = [n for n in stack.portal.notifications if n["user_id"] == operator and "Хочет:" in n["message"]]
    assert briefs, stack.portal.notifications
    brief = briefs[-1]["message"]
    assert "operator_command" in brief  # the reason, from the taxonomy
    assert "Сколько стоит доставка по Москве?" in brief  # what the customer wanted, not the command
    assert "590" in brief and "Анна" in brief
