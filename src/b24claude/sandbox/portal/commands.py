"""Bot commands: registration (classic ``imbot.command.*`` and ``imbot.v2.Command.*``), and the command
events the portal emits when a user types ``/command params`` or presses a keyboard button with ``COMMAND``.

As Bitrix24 documents it (api-reference/chat-bots/commands/*, chat-bots-v2/imbot.v2/commands/*,
.../imbot.v2/messages/message-keyboards.md, .../imbot.v2/events/events.md#onimbotv2commandadd):

- a command belongs to one bot; ``COMMON=Y`` works in any chat, otherwise only where the bot is a member;
- v1 delivers ``ONIMCOMMANDADD`` (form POST) to the command's ``EVENT_COMMAND_ADD`` URL:
  ``data[COMMAND][<COMMAND_ID>]`` = the bot's auth block + ``BOT_ID, BOT_CODE, COMMAND, COMMAND_ID,
  COMMAND_PARAMS, COMMAND_CONTEXT, MESSAGE_ID``, with ``data[PARAMS]`` and ``data[USER]`` as for a message;
- v2 queues ``ONIMBOTV2COMMANDADD`` (fetch mode; webhook mode posts it): ``bot, command{id, command "/x",
  params, context textarea|keyboard|menu}, message, chat, user, language``;
- a button press posts no message: the event names the message that carried the keyboard.

A typed command of a bot goes to that bot as the command event instead of ONIMBOTMESSAGEADD [U: the
docs do not say whether both fire; the app handles either].
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, param, yes
from .im import _push_v2, _v1_bot_block, _v1_params, _v2_bot, _v2_chat, _v2_message, _v2_user, event_user
from .state import Bot, Chat, Message

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _existing(state: PortalState, bot: Bot, command: str) -> JSON | None:
    return next(
        (c for c in state.commands.values() if c["BOT_ID"] == bot.id and c["COMMAND"] == command), None
    )


def register_v1(state: PortalState, bot: Bot, params: JSON) -> int:
    command = str(param(params, "COMMAND", "") or "").strip().lstrip("/")
    if not command:
        raise RestError(400, "COMMAND_ERROR", "Command isn't specified")
    if not _NAME.match(command):
        raise RestError(400, "COMMAND_ERROR", "Command can contain only latin letters and digits")
    handler = param(params, "EVENT_COMMAND_ADD")
    if not _is_url(handler):
        raise RestError(400, "EVENT_COMMAND_ADD", "Wrong handler URL")
    lang = param(params, "LANG")
    langs = list(lang.values()) if isinstance(lang, dict) else lang
    if not isinstance(langs, list) or not langs:
        raise RestError(400, "LANG_ERROR", "Lang set can't be empty")
    existing = _existing(state, bot, command)
    if existing is not None:  # [U] re-registration answers the existing command
        return int(existing["ID"])
    command_id = state.next_id("command", 101)
    state.commands[command_id] = {
        "ID": command_id,
        "BOT_ID": bot.id,
        "COMMAND": command,
        "HANDLER": str(handler),
        "COMMON": yes(param(params, "COMMON", "N")),
        "HIDDEN": yes(param(params, "HIDDEN", "N")),
        "TITLE": {str(x.get("LANGUAGE_ID")): str(x.get("TITLE", "")) for x in langs if isinstance(x, dict)},
    }
    return command_id


@methods.add("imbot.command.unregister", scope="imbot")
async def imbot_command_unregister(state: PortalState, caller: Caller, params: JSON) -> Any:
    command_id = as_int(param(params, "COMMAND_ID"))
    if state.commands.pop(command_id, None) is None:
        raise RestError(400, "COMMAND_ID_ERROR", "Command not found")
    return True


def _flag(value: Any) -> bool:
    return value is True or str(value).upper() in ("Y", "TRUE", "1")


@methods.add("imbot.v2.Command.register", scope="imbot")
async def v2_command_register(state: PortalState, caller: Caller, params: JSON) -> Any:
    from .bots import v2_bot

    bot = v2_bot(state, caller, params)
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise RestError(400, "COMMAND_REQUIRED", "Command is required")
    raw = fields.get("command")
    if raw in (None, ""):
        raise RestError(400, "COMMAND_REQUIRED", "Command is required")
    if not isinstance(raw, str) or not _NAME.match(raw.lstrip("/")):
        raise RestError(400, "COMMAND_NAME_INVALID", "Command name is invalid")
    command = raw.lstrip("/")
    hidden = _flag(fields.get("hidden", False))
    title = fields.get("title")
    if not hidden and not (isinstance(title, dict) and title):
        raise RestError(400, "COMMAND_TITLE_REQUIRED", "Command title is required")
    existing = _existing(state, bot, command)  # idempotent: the existing command, not updated
    if existing is None:
        command_id = state.next_id("command", 101)
        existing = state.commands[command_id] = {
            "ID": command_id,
            "BOT_ID": bot.id,
            "COMMAND": command,
            "HANDLER": "",
            "COMMON": _flag(fields.get("common", False)),
            "HIDDEN": hidden,
            "TITLE": {str(k): str(v) for k, v in (title or {}).items()},
        }
    return {
        "command": {
            "id": existing["ID"],
            "botId": bot.id,
            "command": "/" + existing["COMMAND"],
            "common": existing["COMMON"],
            "hidden": existing["HIDDEN"],
            "extranetSupport": _flag(fields.get("extranetSupport", False)),
        }
    }


@methods.add("imbot.v2.Command.list", scope="imbot")
async def v2_command_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    from .bots import v2_bot

    bot = v2_bot(state, caller, params)
    return {
        "commands": [
            {"id": c["ID"], "botId": bot.id, "command": "/" + c["COMMAND"], "common": c["COMMON"]}
            for c in state.commands.values()
            if c["BOT_ID"] == bot.id
        ]
    }


# ----- command events -----------------------------------------------------------------------------
def typed_command(state: PortalState, chat: Chat, text: str) -> tuple[JSON, str] | None:
    """The registered command a message invokes (``/name params``) and its params, if any."""
    match = re.match(r"^/([A-Za-z0-9_]+)(?:\s+(.*))?$", text.strip(), re.DOTALL)
    if match is None:
        return None
    name = match.group(1).lower()
    for command in state.commands.values():
        if command["COMMAND"].lower() != name:
            continue
        bot = state.bots.get(command["BOT_ID"])
        if bot is not None and (command["COMMON"] or bot.id in chat.members):
            return command, (match.group(2) or "").strip()
    return None


def emit_command(
    state: PortalState,
    command: JSON,
    chat: Chat,
    msg: Message,
    *,
    user_id: int,
    params: str,
    context: str,
) -> None:
    bot = state.bots[command["BOT_ID"]]
    line = f"/{command['COMMAND']} {params}".strip()
    if bot.api == "v1":
        if not command["HANDLER"]:
            return
        from .auth import event_auth

        block = _v1_bot_block(state, bot)[str(bot.id)]
        block.update(
            {
                "COMMAND": command["COMMAND"],
                "COMMAND_ID": str(command["ID"]),
                "COMMAND_PARAMS": params,
                "COMMAND_CONTEXT": context.upper(),
                "MESSAGE_ID": str(msg.id),
            }
        )
        message_params = _v1_params(state, bot, chat, msg)
        message_params.update(
            {
                "MESSAGE": line,
                "FROM_USER_ID": str(user_id),
                "AUTHOR_ID": str(user_id),
                "COMMAND_CONTEXT": context.upper(),
            }
        )
        body: JSON = {
            "event": "ONIMCOMMANDADD",
            "event_handler_id": str(500 + int(command["ID"])),
            "data": {
                "COMMAND": {str(command["ID"]): block},
                "PARAMS": message_params,
                "USER": event_user(state, user_id),
            },
            "ts": str(int(state.now())),
        }
        app = state.apps.get(bot.client_id)
        if app is not None:
            body["auth"] = event_auth(state, app, user_id, with_refresh=False)
        state.deliverer.send_form(
            command["HANDLER"], body, event="ONIMCOMMANDADD", order_key=f"chat{chat.id}"
        )
        return
    _push_v2(
        state,
        bot,
        "ONIMBOTV2COMMANDADD",
        chat,
        {
            "bot": _v2_bot(bot),
            "command": {
                "id": command["ID"],
                "command": "/" + command["COMMAND"],
                "params": params,
                "context": context.lower(),
            },
            "message": _v2_message(state, msg),
            "chat": _v2_chat(chat, user_id),
            "user": _v2_user(state, user_id),
            "language": bot.language,
        },
    )


def keyboard_buttons(msg: Message) -> list[JSON]:
    """The buttons of a message's keyboard (full ``{BUTTONS: [...]}``, a bare array, or a JSON string)."""
    raw = msg.params.get("KEYBOARD")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    if isinstance(raw, dict):
        raw = raw.get("BUTTONS")
    if isinstance(raw, dict):  # a PHP-form array arrives keyed "0", "1", ...
        raw = [raw[k] for k in sorted(raw, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return [b for b in raw or [] if isinstance(b, dict) and b.get("TYPE") != "NEWLINE"]


def press_button(state: PortalState, message_id: int, button: str | int, *, user_id: int) -> JSON:
    """A user presses a keyboard button: a ``COMMAND`` button fires the command event (once, when
    ``BLOCK=Y``); ``ACTION=SEND`` sends the text as the user; ``PUT``/``COPY`` only tell what the client
    did with the value (it is not posted)."""
    from .im import post_message

    msg = state.messages.get(message_id)
    if msg is None or msg.deleted:
        raise LookupError(f"no message {message_id}")
    chat = state.chats[msg.chat_id]
    if user_id not in chat.members:
        raise ValueError(f"user {user_id} is not in chat {chat.id}")
    buttons = keyboard_buttons(msg)
    chosen = (buttons[button] if isinstance(button, int) and 0 <= button < len(buttons) else None) or next(
        (b for b in buttons if str(b.get("TEXT")) == str(button)), None
    )
    if chosen is None:
        raise LookupError(f"message {message_id} has no button {button!r}")
    if yes(chosen.get("DISABLED", "N")) or chosen.get("_BLOCKED"):
        raise ValueError("the button is disabled")
    if chosen.get("COMMAND"):
        name = str(chosen["COMMAND"]).lstrip("/").lower()
        owner = (
            as_int((msg.params.get("KEYBOARD") or {}).get("BOT_ID"))
            if isinstance(msg.params.get("KEYBOARD"), dict)
            else 0
        )
        owner = owner or msg.author_id
        command = next(
            (c for c in state.commands.values() if c["COMMAND"].lower() == name and c["BOT_ID"] == owner),
            None,
        )
        if command is None:
            raise LookupError(f"no command {name!r} registered by bot {owner}")
        if yes(chosen.get("BLOCK", "N")):
            chosen["_BLOCKED"] = True
        emit_command(
            state,
            command,
            chat,
            msg,
            user_id=user_id,
            params=str(chosen.get("COMMAND_PARAMS") or ""),
            context="keyboard",
        )
        return {"fired": "/" + command["COMMAND"], "params": str(chosen.get("COMMAND_PARAMS") or "")}
    action = str(chosen.get("ACTION") or "").upper()
    value = str(chosen.get("ACTION_VALUE") or "")
    if action == "SEND":
        sent = post_message(state, chat, user_id, value)
        notify_or_command(state, chat, sent)
        return {"sent": sent.id}
    if action in ("PUT", "COPY", "CALL", "DIALOG"):
        return {"action": action, "value": value}
    if chosen.get("LINK"):
        return {"link": chosen["LINK"]}
    raise ValueError("the button has no action")


def notify_or_command(state: PortalState, chat: Chat, msg: Message) -> None:
    """What the portal does with a new message: a registered command fires its command event (to its
    bot), every other bot that should hear of the message gets ONIMBOTMESSAGEADD."""
    from .im import notify_bots

    found = typed_command(state, chat, msg.text) if not msg.system else None
    if found is None:
        notify_bots(state, chat, msg)
        return
    command, params = found
    emit_command(state, command, chat, msg, user_id=msg.author_id, params=params, context="textarea")
    notify_bots(state, chat, msg, skip_bot=command["BOT_ID"])
