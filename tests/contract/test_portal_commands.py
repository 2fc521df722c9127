"""Bot commands in the portal emulator, held to the REST docs (api-reference/chat-bots/commands/*,
chat-bots-v2/imbot.v2/commands/*, .../events/events.md#onimbotv2commandadd, fixture
ONIMCOMMANDADD_keyboard.json): registration in both generations, the command event for a typed command
and for a keyboard button, never a message event for the same command."""

from __future__ import annotations

import pytest

from b24claude.kit import phpform
from tests.conftest import load_fixture
from tests.contract.test_portal_emulator import Portal, Recorder, _install, portal, recorder

pytestmark = pytest.mark.contract
__all__ = ["portal", "recorder"]


def _keys(tree: object, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    out: set[str] = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}[{k}]" if prefix else str(k))
    return out


async def test_v1_command_register_typed_and_keyboard_events(
    portal: Portal, recorder: tuple[Recorder, str]
) -> None:
    rec, url = recorder
    await _install(portal)
    bot_id = (
        await portal.ok(
            "imbot.register",
            {"CODE": "claude", "TYPE": "O", "EVENT_HANDLER": f"{url}/bot", "PROPERTIES": {"NAME": "Claude"}},
        )
    )["result"]
    lang = [{"LANGUAGE_ID": "ru", "TITLE": "Позвать оператора"}, {"LANGUAGE_ID": "en", "TITLE": "Operator"}]
    no_lang = await portal.call(
        "imbot.command.register", {"BOT_ID": bot_id, "COMMAND": "operator", "EVENT_COMMAND_ADD": f"{url}/cmd"}
    )
    assert no_lang.json()["error"] == "LANG_ERROR"
    bad_url = await portal.call(
        "imbot.command.register",
        {"BOT_ID": bot_id, "COMMAND": "operator", "EVENT_COMMAND_ADD": "x", "LANG": lang},
    )
    assert bad_url.json()["error"] == "EVENT_COMMAND_ADD"
    params = {"BOT_ID": bot_id, "COMMAND": "operator", "EVENT_COMMAND_ADD": f"{url}/cmd", "LANG": lang}
    command_id = (await portal.ok("imbot.command.register", params))["result"]
    assert isinstance(command_id, int) and command_id > 0
    assert (await portal.ok("imbot.command.register", params))["result"] == command_id
    rate = {**params, "COMMAND": "rate", "HIDDEN": "Y"}
    rate_id = (await portal.ok("imbot.command.register", rate))["result"]
    await portal.ok(
        "imopenlines.config.update",
        {"CONFIG_ID": 1, "PARAMS": {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id}},
    )

    typed = await portal.state.customer_writes("/operator", customer="anna")
    await portal.state.wait_deliveries()
    assert rec.forms("ONIMBOTMESSAGEADD") == []  # the command's bot gets the command event instead
    [form] = rec.forms("ONIMCOMMANDADD")
    assert rec.posts[-1][0] == "cmd"  # to the command's EVENT_COMMAND_ADD, not the bot's handler
    data = phpform.parse(form)
    fixture = load_fixture("ONIMCOMMANDADD_keyboard.json")["body"]
    block = data["data"]["COMMAND"][str(command_id)]
    assert _keys(fixture["data"]["COMMAND"]["103"]) <= _keys(block)
    assert (block["COMMAND"], block["COMMAND_PARAMS"], block["COMMAND_CONTEXT"]) == (
        "operator",
        "",
        "TEXTAREA",
    )
    assert block["MESSAGE_ID"] == str(typed.id) and block["BOT_ID"] == str(bot_id)
    assert set(fixture["data"]["PARAMS"]) <= set(data["data"]["PARAMS"])
    assert data["data"]["PARAMS"]["DIALOG_ID"] == f"chat{typed.chat_id}"
    assert data["data"]["USER"]["IS_CONNECTOR"] == "Y"
    assert data["auth"]["application_token"] == block["application_token"]

    answer = await portal.ok(
        "imbot.message.add",
        {
            "BOT_ID": bot_id,
            "DIALOG_ID": f"chat{typed.chat_id}",
            "MESSAGE": "Доставка — 590 ₽.",
            "KEYBOARD": {
                "BOT_ID": bot_id,
                "BUTTONS": [
                    {"TEXT": "👍", "COMMAND": "rate", "COMMAND_PARAMS": "up 7", "BLOCK": "Y"},
                    {"TEXT": "👎", "COMMAND": "rate", "COMMAND_PARAMS": "down 7"},
                ],
            },
        },
    )
    customer = portal.state.customers["anna"]
    assert portal.state.press_button(answer["result"], "👍", user_id=customer)["fired"] == "/rate"
    with pytest.raises(ValueError):
        portal.state.press_button(answer["result"], "👍", user_id=customer)  # BLOCK=Y: pressed once
    await portal.state.wait_deliveries()
    pressed = phpform.parse(rec.forms("ONIMCOMMANDADD")[-1])
    block = pressed["data"]["COMMAND"][str(rate_id)]
    assert (block["COMMAND_PARAMS"], block["COMMAND_CONTEXT"]) == ("up 7", "KEYBOARD")
    assert block["MESSAGE_ID"] == str(answer["result"])  # the message that carried the keyboard
    assert pressed["data"]["PARAMS"]["FROM_USER_ID"] == str(customer)
    assert len(portal.state.chat_messages(typed.chat_id)) == 2  # a press posts nothing
    assert rec.forms("ONIMBOTMESSAGEADD") == []


async def test_v2_command_register_and_events_in_the_fetch_queue(portal: Portal) -> None:
    await _install(portal)
    reg = await portal.ok(
        "imbot.v2.Bot.register",
        {
            "fields": {
                "code": "c2",
                "type": "openline",
                "eventMode": "fetch",
                "properties": {"name": "Claude"},
            }
        },
    )
    bot_id = reg["result"]["bot"]["id"]
    untitled = await portal.call(
        "imbot.v2.Command.register", {"botId": bot_id, "fields": {"command": "operator"}}
    )
    assert untitled.json()["error"] == "COMMAND_TITLE_REQUIRED"
    missing = await portal.call("imbot.v2.Command.register", {"botId": bot_id, "fields": {}})
    assert missing.json()["error"] == "COMMAND_REQUIRED"
    fields = {"command": "operator", "title": {"ru": "Позвать оператора", "en": "Call an operator"}}
    first = (await portal.ok("imbot.v2.Command.register", {"botId": bot_id, "fields": fields}))["result"]
    assert set(first["command"]) == {"id", "botId", "command", "common", "hidden", "extranetSupport"}
    assert first["command"]["command"] == "/operator" and first["command"]["botId"] == bot_id
    again = (await portal.ok("imbot.v2.Command.register", {"botId": bot_id, "fields": fields}))["result"]
    assert again["command"]["id"] == first["command"]["id"]  # idempotent
    rate = (
        await portal.ok(
            "imbot.v2.Command.register", {"botId": bot_id, "fields": {"command": "rate", "hidden": True}}
        )
    )["result"]["command"]
    await portal.ok(
        "imopenlines.config.update",
        {"CONFIG_ID": 1, "PARAMS": {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id}},
    )
    typed = await portal.state.customer_writes("/operator срочно", customer="anna")
    events = (await portal.ok("imbot.v2.Event.get", {"botId": bot_id}))["result"]["events"]
    assert [e["type"] for e in events] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2COMMANDADD"]
    data = events[1]["data"]
    assert {"bot", "command", "message", "chat", "user", "language"} <= set(data)
    assert data["command"] == {
        "id": first["command"]["id"],
        "command": "/operator",
        "params": "срочно",
        "context": "textarea",
    }
    assert data["message"]["id"] == typed.id and data["chat"]["entityType"] == "LINES"

    sent = await portal.ok(
        "imbot.v2.Chat.Message.send",
        {
            "botId": bot_id,
            "dialogId": f"chat{typed.chat_id}",
            "fields": {
                "message": "Ответ",
                "keyboard": {
                    "BOT_ID": bot_id,
                    "BUTTONS": [{"TEXT": "👎", "COMMAND": "rate", "COMMAND_PARAMS": "down"}],
                },
            },
        },
    )
    customer = portal.state.customers["anna"]
    portal.state.press_button(sent["result"]["id"], 0, user_id=customer)
    events = (await portal.ok("imbot.v2.Event.get", {"botId": bot_id}))["result"]["events"]
    pressed = events[-1]["data"]
    assert events[-1]["type"] == "ONIMBOTV2COMMANDADD"
    assert pressed["command"] == {
        "id": rate["id"],
        "command": "/rate",
        "params": "down",
        "context": "keyboard",
    }
    assert pressed["message"]["id"] == sent["result"]["id"] and pressed["user"]["id"] == customer
    with pytest.raises(LookupError):
        portal.state.press_button(sent["result"]["id"], "нет такой", user_id=customer)
