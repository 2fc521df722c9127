"""Chat-bot REST methods: classic ``imbot.*`` (v1) and Chatbots 2.0 ``imbot.v2.*`` (§4)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, param, yes
from .im import add_user, full_name, notify_bots, post_message, resolve_dialog
from .state import Bot

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()
MAX_MESSAGE = 20000
MAX_BLOCK = 30 * 1024
V1_TYPES = ("B", "O", "H", "S")
V2_TYPES = ("bot", "supervisor", "personal", "openline")
HANDLER_KEYS = (
    "EVENT_MESSAGE_ADD",
    "EVENT_MESSAGE_UPDATE",
    "EVENT_MESSAGE_DELETE",
    "EVENT_WELCOME_MESSAGE",
    "EVENT_BOT_DELETE",
)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


# ----- v1 -----------------------------------------------------------------------------------------
def _v1_owner(caller: Caller, params: JSON) -> str:
    if caller.client_id:
        return caller.client_id
    client_id = param(params, "CLIENT_ID")
    if not client_id:
        raise RestError(400, "ACCESS_DENIED", "Client ID not specified")
    return f"webhook:{client_id}"


def _v1_bot(state: PortalState, caller: Caller, params: JSON) -> Bot:
    owner = _v1_owner(caller, params)
    bot_id = as_int(param(params, "BOT_ID"))
    if not bot_id:
        bot_id = next((b.id for b in state.bots.values() if b.client_id == owner and b.api == "v1"), 0)
    bot = state.bots.get(bot_id)
    if bot is None or bot.client_id != owner or bot.api != "v1":
        raise RestError(400, "BOT_ID_ERROR", "Bot not found")
    return bot


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False)) if not isinstance(value, str) else len(value)


def _message_params(params: JSON) -> JSON:
    out: JSON = {}
    for key in ("KEYBOARD", "ATTACH", "MENU"):
        value = param(params, key)
        if value not in (None, "", "N"):
            if _size(value) > MAX_BLOCK:
                raise RestError(
                    400, f"{key}_OVERSIZE", f"You have exceeded the maximum allowable size of {key}"
                )
            out[key] = value
    for key in ("SKIP_CONNECTOR", "URL_PREVIEW"):
        value = param(params, key)
        if value is not None:
            out[key] = "Y" if yes(value) else "N"
    return out


@methods.add("imbot.register", scope="imbot")
async def imbot_register(state: PortalState, caller: Caller, params: JSON) -> Any:
    owner = _v1_owner(caller, params)
    code = str(param(params, "CODE", "") or "").strip()
    if not code:
        raise RestError(400, "CODE_ERROR", "Bot code isn't specified")
    existing = next((b for b in state.bots.values() if b.code == code), None)
    if existing is not None:
        if existing.client_id == owner:
            return existing.id
        raise RestError(400, "CODE_ERROR", "Bot with this code is already registered")
    bot_type = str(param(params, "TYPE", "B") or "B").upper()
    if bot_type not in V1_TYPES:
        bot_type = "B"
    handlers = {k: str(param(params, k) or param(params, "EVENT_HANDLER") or "") for k in HANDLER_KEYS}
    for key in ("EVENT_MESSAGE_ADD", "EVENT_WELCOME_MESSAGE", "EVENT_BOT_DELETE"):
        if not _is_url(handlers[key]):
            raise RestError(400, f"{key}_ERROR", "Wrong handler URL")
    props = param(params, "PROPERTIES") or {}
    if not isinstance(props, dict) or not (props.get("NAME") or props.get("LAST_NAME")):
        raise RestError(400, "NAME_ERROR", "Bot name isn't specified")
    if (
        sum(1 for b in state.bots.values() if b.client_id == owner and b.api == "v1")
        >= state.config.max_bots_per_app
    ):
        raise RestError(
            400,
            "MAX_COUNT_ERROR",
            f"Has reached the maximum number of bots for application (max: {state.config.max_bots_per_app})",
        )
    uid = add_user(
        state,
        None,
        str(props.get("NAME", "")),
        str(props.get("LAST_NAME", "")),
        position=str(props.get("WORK_POSITION", "")),
        gender=str(props.get("PERSONAL_GENDER", "")),
        email=str(props.get("EMAIL", "")),
        bot=True,
    )
    app = state.apps.get(owner)
    state.bots[uid] = Bot(
        id=uid,
        code=code,
        type=bot_type,
        api="v1",
        client_id=owner,
        handlers=handlers,
        openline=bot_type == "O" or yes(param(params, "OPENLINE", "N")),
        properties=dict(props),
        language=app.language if app else state.config.language,
    )
    return uid


@methods.add("imbot.unregister", scope="imbot")
async def imbot_unregister(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    url = bot.handlers.get("EVENT_BOT_DELETE")
    del state.bots[bot.id]
    state.users[bot.id]["ACTIVE"] = False
    if url:
        from .auth import event_auth

        body: JSON = {
            "event": "ONIMBOTDELETE",
            "event_handler_id": str(400 + bot.id),
            "data": {"BOT_ID": str(bot.id), "BOT_CODE": bot.code},
            "ts": str(int(state.now())),
        }
        app = state.apps.get(bot.client_id)
        if app is not None:
            body["auth"] = event_auth(state, app, caller.user_id, with_refresh=False)
        state.deliverer.send_form(url, body, event="ONIMBOTDELETE", order_key=f"bot{bot.id}")
    return True


@methods.add("imbot.bot.list", scope="imbot")
async def imbot_bot_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    return {
        str(b.id): {
            "ID": b.id,
            "NAME": full_name(state, b.id),
            "CODE": b.code,
            "OPENLINE": "Y" if b.openline else "N",
        }
        for b in state.bots.values()
        if b.api == "v1"
    } or []


@methods.add("imbot.update", scope="imbot")
async def imbot_update(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    fields = param(params, "FIELDS") or {}
    if not isinstance(fields, dict):
        raise RestError(400, "WRONG_REQUEST", "FIELDS must be an object")
    if fields.get("CODE"):
        bot.code = str(fields["CODE"])
    for key in (*HANDLER_KEYS, "EVENT_HANDLER"):
        if key in fields:
            if not _is_url(fields[key]):
                raise RestError(400, f"{key}_ERROR", "Wrong handler URL")
            for target in HANDLER_KEYS if key == "EVENT_HANDLER" else (key,):
                bot.handlers[target] = str(fields[key])
    props = fields.get("PROPERTIES")
    if isinstance(props, dict):
        bot.properties.update(props)
        user = state.users[bot.id]
        user["NAME"] = str(props.get("NAME", user["NAME"]))
        user["LAST_NAME"] = str(props.get("LAST_NAME", user["LAST_NAME"]))
    return True


def _text(params: JSON, key: str = "MESSAGE") -> str:
    text = str(param(params, key, "") or "").strip()
    if len(text) > MAX_MESSAGE:
        raise RestError(400, "WRONG_REQUEST", f"Message is too long (max {MAX_MESSAGE} characters)")
    return text


def bot_says(state: PortalState, bot: Bot, chat_dialog: Any, text: str, *, system: bool, extra: JSON) -> int:
    chat = resolve_dialog(state, chat_dialog, bot.id)
    if chat.type != "P" and bot.id not in chat.members:
        chat.members.append(bot.id)
    msg = post_message(state, chat, bot.id, text, system=system, params=extra)
    notify_bots(state, chat, msg)
    return msg.id


@methods.add("imbot.message.add", scope="imbot")
async def imbot_message_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    text = _text(params)
    extra = _message_params(params)
    if not text and "ATTACH" not in extra:
        raise RestError(400, "MESSAGE_EMPTY", "Message can't be empty")
    system = yes(param(params, "SYSTEM", "N"))
    dialog = param(params, "DIALOG_ID")
    if not dialog and param(params, "TO_USER_ID"):
        dialog, system = param(params, "TO_USER_ID"), True
    return bot_says(state, bot, dialog, text, system=system, extra=extra)


def _own_message(state: PortalState, bot: Bot, params: JSON) -> Any:
    msg = state.messages.get(as_int(param(params, "MESSAGE_ID")))
    if msg is None or msg.deleted or msg.author_id != bot.id:
        raise RestError(400, "MESSAGE_ID_ERROR", "Message not found")
    return msg


@methods.add("imbot.message.update", scope="imbot")
async def imbot_message_update(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    msg = _own_message(state, bot, params)
    if param(params, "MESSAGE") is not None:
        text = _text(params)
        if not text:
            msg.deleted = True
            return True
        msg.text = text
    if str(param(params, "KEYBOARD", "")) == "N":
        msg.params.pop("KEYBOARD", None)
    msg.params.update(_message_params(params))
    msg.params["IS_EDITED"] = "Y"
    return True


@methods.add("imbot.message.delete", scope="imbot")
async def imbot_message_delete(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    _own_message(state, bot, params).deleted = True
    return True


@methods.add("imbot.chat.sendTyping", scope="imbot")
async def imbot_send_typing(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = _v1_bot(state, caller, params)
    resolve_dialog(state, param(params, "DIALOG_ID"), bot.id)
    return True


@methods.add("imbot.command.register", scope="imbot")
async def imbot_command_register(state: PortalState, caller: Caller, params: JSON) -> Any:
    from .commands import register_v1

    return register_v1(state, _v1_bot(state, caller, params), params)


@methods.add("imbot.command.answer", scope="imbot")
async def imbot_command_answer(state: PortalState, caller: Caller, params: JSON) -> Any:
    command_id = as_int(param(params, "COMMAND_ID"))
    name = param(params, "COMMAND")
    command = state.commands.get(command_id) or next(
        (c for c in state.commands.values() if name and c["COMMAND"] == name), None
    )
    if command is None:
        raise RestError(400, "COMMAND_ID_ERROR", "Command not found")
    bot = state.bots.get(command["BOT_ID"])
    source = state.messages.get(as_int(param(params, "MESSAGE_ID")))
    if bot is None or source is None:
        raise RestError(400, "MESSAGE_ID_ERROR", "Message not found")
    return bot_says(
        state,
        bot,
        f"chat{source.chat_id}",
        _text(params),
        system=yes(param(params, "SYSTEM", "N")),
        extra=_message_params(params),
    )


# ----- v2 -----------------------------------------------------------------------------------------
def _v2_error(code: str, text: str, status: int = 400) -> RestError:
    return RestError(status, code, text)


def v2_bot(state: PortalState, caller: Caller, params: JSON) -> Bot:
    bot_id = as_int(param(params, "botId"))
    if not bot_id:
        raise _v2_error("BOT_ID_REQUIRED", "botId is required")
    bot = state.bots.get(bot_id)
    if bot is None or bot.api != "v2":
        raise _v2_error("BOT_NOT_FOUND", "Bot not found")
    if caller.client_id is not None:
        if bot.client_id != caller.client_id:
            raise _v2_error("BOT_OWNERSHIP_ERROR", "Bot belongs to another application", 403)
    else:
        token = param(params, "botToken")
        if not token:
            raise _v2_error("BOT_TOKEN_NOT_SPECIFIED", "botToken is required for webhook authorization")
        if bot.bot_token != token:
            raise _v2_error("BOT_OWNERSHIP_ERROR", "Bot belongs to another application", 403)
    return bot


def _v2_view(state: PortalState, bot: Bot) -> JSON:
    return {
        "id": bot.id,
        "code": bot.code,
        "type": bot.type,
        "isHidden": False,
        "isSupportOpenline": bot.openline,
        "isReactionsEnabled": True,
        "backgroundId": None,
        "language": bot.language,
        "moduleId": "rest",
        "eventMode": bot.event_mode,
        "countMessage": 0,
        "countCommand": 0,
        "countChat": 0,
        "countUser": 0,
    }


@methods.add("imbot.v2.Bot.register", scope="imbot")
async def v2_register(state: PortalState, caller: Caller, params: JSON) -> Any:
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise _v2_error("BOT_FIELDS_REQUIRED", "fields is required")
    code = str(fields.get("code") or "").strip()
    props = fields.get("properties") or {}
    if not code:
        raise _v2_error("BOT_CODE_REQUIRED", "fields.code is required")
    if not isinstance(props, dict) or not props.get("name"):
        raise _v2_error("BOT_NAME_REQUIRED", "fields.properties.name is required")
    bot_type = str(fields.get("type") or "bot")
    if bot_type not in V2_TYPES:
        raise _v2_error("BOT_INVALID_TYPE", "Invalid bot type")
    mode = str(fields.get("eventMode") or "fetch")
    if mode not in ("fetch", "webhook"):
        raise _v2_error("BOT_INVALID_EVENT_MODE", "Invalid eventMode")
    url = fields.get("webhookUrl")
    if mode == "webhook" and not _is_url(url):
        raise _v2_error("BOT_WEBHOOK_URL_REQUIRED", "webhookUrl is required for eventMode webhook")
    token = fields.get("botToken")
    if caller.client_id is None and not token:
        raise _v2_error("BOT_TOKEN_NOT_SPECIFIED", "botToken is required for webhook authorization")
    if token is not None and len(str(token)) > 40:
        raise _v2_error("BOT_TOKEN_INVALID_LENGTH", "botToken must be at most 40 characters")
    owner = caller.client_id or f"bot_token:{token}"
    existing = next((b for b in state.bots.values() if b.code == code and b.client_id == owner), None)
    if existing is None:
        if sum(1 for b in state.bots.values() if b.client_id == owner and b.api == "v2") >= 100:
            raise _v2_error("BOT_MAX_COUNT", "Too many bots")
        uid = add_user(
            state,
            None,
            str(props["name"]),
            str(props.get("lastName") or ""),
            position=str(props.get("workPosition") or ""),
            gender=str(props.get("gender") or ""),
            bot=True,
        )
        app = state.apps.get(owner)
        existing = Bot(
            id=uid,
            code=code,
            type=bot_type,
            api="v2",
            client_id=owner,
            openline=bot_type == "openline" or bool(fields.get("isSupportOpenline")),
            properties=dict(props),
            event_mode=mode,
            webhook_url=str(url) if url else None,
            bot_token=str(token) if token else None,
            language=app.language if app else state.config.language,
        )
        state.bots[uid] = existing
    user = state.users[existing.id]
    return {
        "bot": _v2_view(state, existing),
        "users": [
            {
                "id": existing.id,
                "active": True,
                "name": full_name(state, existing.id),
                "firstName": user["NAME"],
                "lastName": user["LAST_NAME"],
                "workPosition": user["WORK_POSITION"],
                "color": "#df532d",
                "avatar": "",
                "gender": user["PERSONAL_GENDER"] or "M",
                "birthday": "",
                "extranet": False,
                "bot": True,
                "connector": False,
                "externalAuthId": "bot",
                "status": "online",
                "idle": False,
                "lastActivityDate": state.iso(),
                "absent": False,
                "departments": [1],
                "phones": False,
                "type": "bot",
            }
        ],
    }


@methods.add("imbot.v2.Bot.unregister", scope="imbot")
async def v2_unregister(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = v2_bot(state, caller, params)
    del state.bots[bot.id]
    state.users[bot.id]["ACTIVE"] = False
    return True


@methods.add("imbot.v2.Event.get", scope="imbot")
async def v2_event_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    """Pull queue: ``offset`` acknowledges (deletes) every event with id < offset (at-least-once)."""
    bot = v2_bot(state, caller, params)
    limit = as_int(param(params, "limit"), 100)
    if not 1 <= limit <= 1000:
        raise _v2_error("INVALID_LIMIT", "limit must be between 1 and 1000")
    offset = param(params, "offset")
    if offset is not None and offset != "":
        bot.events = [e for e in bot.events if e["eventId"] >= as_int(offset)]
    page = bot.events[:limit]
    if page:
        next_offset = page[-1]["eventId"] + 1
    else:
        next_offset = as_int(offset) if offset not in (None, "") else state._counters.get("v2event", 1000) + 1
    return {"events": page, "nextOffset": next_offset, "hasMore": len(bot.events) > limit}


@methods.add("imbot.v2.Chat.Message.send", scope="imbot")
async def v2_message_send(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = v2_bot(state, caller, params)
    fields = param(params, "fields") or {}
    if not isinstance(fields, dict):
        raise _v2_error("MESSAGE_FIELDS_INVALID", "fields must be an object")
    text = str(fields.get("message") or "")
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 5] + "(...)"
    extra: JSON = {}
    for key in ("keyboard", "attach"):
        if fields.get(key):
            extra[key.upper()] = fields[key]
    if not text.strip() and not extra:
        raise _v2_error("MESSAGE_EMPTY", "Message can't be empty")
    dialog = param(params, "dialogId")
    system = fields.get("system") in (True, "true", "Y", "1", 1)
    return {"id": bot_says(state, bot, dialog, text.strip(), system=system, extra=extra)}


@methods.add("imbot.v2.Chat.InputAction.notify", scope="imbot")
async def v2_input_action(state: PortalState, caller: Caller, params: JSON) -> Any:
    bot = v2_bot(state, caller, params)
    resolve_dialog(state, param(params, "dialogId"), bot.id)
    return {"result": True}
