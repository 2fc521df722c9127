"""Open Lines REST methods: line config, dialog lookup, CRM chats, bot session control (§5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, param, yes
from .im import full_name, post_message, set_operator, sync_entity

if TYPE_CHECKING:
    from .state import Chat, Line, PortalState, Session

methods = Registry()
CONNECTOR_TITLES = {"livechat": "Онлайн-чат", "telegrambot": "Telegram"}


def _line_view(line: Line) -> JSON:
    return {
        "ID": str(line.id),
        "LINE_NAME": line.name,
        "ACTIVE": "Y" if line.active else "N",
        "WELCOME_BOT_ENABLE": "Y" if line.welcome_bot_enable else "N",
        "WELCOME_BOT_ID": str(line.welcome_bot_id),
        "WELCOME_BOT_JOIN": "always",
        "WELCOME_BOT_LEFT": "queue",
        "WELCOME_MESSAGE": "Y",
        "WELCOME_MESSAGE_TEXT": line.welcome_message,
        "CRM": "Y",
        "CRM_CREATE": "lead",
    }


@methods.add("imopenlines.config.list.get", scope="imopenlines")
async def config_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    options = param(params, "OPTIONS") or {}
    out = []
    for line in state.lines.values():
        item = {k: v for k, v in _line_view(line).items() if k in ("ID", "LINE_NAME", "ACTIVE")}
        if isinstance(options, dict) and yes(options.get("QUEUE", "N")):
            item["QUEUE"] = list(line.queue)
        out.append(item)
    return out


def _line(state: PortalState, params: JSON) -> Line:
    line = state.lines.get(as_int(param(params, "CONFIG_ID")))
    if line is None:
        raise RestError(400, "CONFIG_NOT_FOUND", "Open Line not found")
    return line


@methods.add("imopenlines.config.get", scope="imopenlines")
async def config_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    line = _line(state, params)
    return {**_line_view(line), "QUEUE": list(line.queue)}


@methods.add("imopenlines.config.update", scope="imopenlines")
async def config_update(state: PortalState, caller: Caller, params: JSON) -> Any:
    line = _line(state, params)
    values = param(params, "PARAMS") or {}
    if not isinstance(values, dict):
        raise RestError(400, "PARAMS_ERROR", "PARAMS must be an object")
    if "WELCOME_BOT_ENABLE" in values:
        line.welcome_bot_enable = yes(values["WELCOME_BOT_ENABLE"])
    if "WELCOME_BOT_ID" in values:
        line.welcome_bot_id = as_int(values["WELCOME_BOT_ID"])
    if "LINE_NAME" in values:
        line.name = str(values["LINE_NAME"])
    if "ACTIVE" in values:
        line.active = yes(values["ACTIVE"])
    if "WELCOME_MESSAGE_TEXT" in values:
        line.welcome_message = str(values["WELCOME_MESSAGE_TEXT"])
    return True


def _chat_by_params(state: PortalState, params: JSON) -> Chat:
    chat_id = as_int(param(params, "CHAT_ID"))
    dialog = str(param(params, "DIALOG_ID", "") or "")
    if not chat_id and dialog.startswith("chat"):
        chat_id = as_int(dialog[4:])
    session_id = as_int(param(params, "SESSION_ID"))
    if not chat_id and session_id in state.sessions:
        chat_id = state.sessions[session_id].chat_id
    user_code = param(params, "USER_CODE")
    if not chat_id and user_code:
        chat_id = next((c.id for c in state.chats.values() if c.entity_id == user_code), 0)
    chat = state.chats.get(chat_id)
    if chat is None:
        if not any(param(params, k) for k in ("CHAT_ID", "DIALOG_ID", "SESSION_ID", "USER_CODE")):
            raise RestError(400, "CHAT_ID_EMPTY", "Chat ID can't be empty")
        raise RestError(400, "ACCESS_DENIED", "You do not have access to the specified dialog")
    return chat


@methods.add("imopenlines.dialog.get", scope="imopenlines")
async def dialog_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat = _chat_by_params(state, params)
    ids = [m for m in state.chat_index.get(chat.id, []) if not state.messages[m].deleted]
    last = ids[-1] if ids else 0
    managers = [m for m in chat.members if m != chat.customer_id]
    return {
        "id": chat.id,
        "parent_chat_id": 0,
        "parent_message_id": 0,
        "name": chat.title,
        "description": None,
        "owner": chat.owner_id,
        "extranet": False,
        "avatar": "",
        "color": "#4ba984",
        "type": "lines" if chat.type == "L" else ("private" if chat.type == "P" else "chat"),
        "counter": 0,
        "user_counter": len(chat.members),
        "message_count": len(ids),
        "unread_id": 0,
        "last_message_id": last,
        "last_id": last,
        "marked_id": 0,
        "disk_folder_id": 0,
        "entity_type": chat.entity_type,
        "entity_id": chat.entity_id,
        "entity_data_1": chat.entity_data_1,
        "entity_data_2": chat.entity_data_2,
        "entity_data_3": chat.entity_data_3,
        "mute_list": [],
        "date_create": state.iso(chat.date_create),
        "message_type": chat.type,
        "public": "",
        "role": "member",
        "entity_link": {"type": chat.entity_type, "url": "", "id": chat.entity_id},
        "text_field_enabled": True,
        "background_id": None,
        "manager_list": managers,
        "dialog_id": f"chat{chat.id}",
    }


def _chats_for_crm(state: PortalState, params: JSON) -> list[Chat]:
    entity = str(param(params, "CRM_ENTITY_TYPE", "") or "").upper()
    entity_id = as_int(param(params, "CRM_ENTITY"))
    if entity not in ("LEAD", "DEAL", "CONTACT", "COMPANY") or not entity_id:
        raise RestError(400, "CRM_ENTITY_TYPE_ERROR", "Wrong CRM entity")
    active_only = yes(param(params, "ACTIVE_ONLY", "Y"))
    out = []
    for chat in state.chats.values():
        session = state.sessions.get(chat.session_id)
        if chat.type != "L" or session is None or session.crm.get(entity) != entity_id:
            continue
        if active_only and session.finished is not None:
            continue
        out.append(chat)
    return out


@methods.add("imopenlines.crm.chat.get", scope="imopenlines")
async def crm_chat_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    return [
        {
            "CHAT_ID": str(c.id),
            "CONNECTOR_ID": c.connector,
            "CONNECTOR_TITLE": CONNECTOR_TITLES.get(c.connector, c.connector),
        }
        for c in _chats_for_crm(state, params)
    ]


@methods.add("imopenlines.crm.chat.getLastId", scope="imopenlines")
async def crm_chat_last(state: PortalState, caller: Caller, params: JSON) -> Any:
    chats = _chats_for_crm(state, {**params, "ACTIVE_ONLY": "N"})
    if not chats:
        raise RestError(400, "CHAT_NOT_FOUND", "Chat not found")
    return max(c.id for c in chats)


# ----- bot session control ------------------------------------------------------------------------
def _session(state: PortalState, params: JSON) -> tuple[Chat, Session]:
    if not param(params, "CHAT_ID"):
        raise RestError(400, "CHAT_ID_EMPTY", "Chat ID can't be empty")
    chat = state.chats.get(as_int(param(params, "CHAT_ID")))
    session = state.sessions.get(chat.session_id) if chat else None
    if chat is None or chat.type != "L" or session is None:
        raise RestError(400, "CHAT_ID_EMPTY", "Chat not found")
    return chat, session


def _bot_operator(state: PortalState, session: Session) -> int:
    if session.operator_id not in state.bots or session.finished is not None:
        raise RestError(400, "WRONG_CHAT", "Operator is not a bot")
    return session.operator_id


def _system(state: PortalState, chat: Chat, text: str) -> None:
    post_message(state, chat, 0, text, system=True)


@methods.add("imopenlines.bot.session.operator", scope=("imopenlines", "imbot"))
async def session_operator(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat, session = _session(state, params)
    _bot_operator(state, session)
    line = state.lines[session.line_id]
    operator = line.queue[0] if line.queue else 1
    set_operator(state, chat, operator)
    _system(state, chat, f"Диалог передан оператору {full_name(state, operator)}")
    return True


@methods.add("imopenlines.bot.session.transfer", scope=("imopenlines", "imbot"))
async def session_transfer(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat, session = _session(state, params)
    bot_id = _bot_operator(state, session)
    user_id, queue_id = as_int(param(params, "USER_ID")), as_int(param(params, "QUEUE_ID"))
    transfer = str(param(params, "TRANSFER_ID", "") or "")
    if not (user_id or queue_id or transfer):
        raise RestError(400, "USER_ID_EMPTY", "User ID can't be empty")
    if not user_id and not queue_id and transfer:
        if transfer.startswith("queue"):
            queue_id = as_int(transfer[5:])
        else:
            user_id = as_int(transfer)
    if user_id:
        user = state.users.get(user_id)
        if user is None or user["_BOT"] or user["_CONNECTOR"]:
            raise RestError(400, "OPERATOR_WRONG", "Wrong operator")
        target = user_id
    else:
        line = state.lines.get(queue_id)
        if line is None:
            raise RestError(400, "QUEUE_ID_EMPTY", "Queue ID is wrong")
        target = line.queue[0] if line.queue else 1
    set_operator(state, chat, target)
    if yes(param(params, "LEAVE", "N")) and bot_id in chat.members:
        chat.members.remove(bot_id)
    _system(state, chat, f"Диалог передан оператору {full_name(state, target)}")
    return True


@methods.add("imopenlines.bot.session.finish", scope=("imopenlines", "imbot"))
async def session_finish(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat, session = _session(state, params)
    _bot_operator(state, session)
    session.finished = state.now()
    sync_entity(state, chat)
    _system(state, chat, "Диалог завершён")
    return True


@methods.add("imopenlines.bot.session.message.send", scope=("imopenlines", "imbot"))
async def session_message_send(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat, session = _session(state, params)
    bot_id = _bot_operator(state, session)
    name = str(param(params, "NAME", "DEFAULT") or "DEFAULT").upper()
    if name == "WELCOME":
        text = state.lines[session.line_id].welcome_message
    else:
        text = str(param(params, "MESSAGE", "") or "")
        if not text.strip():
            raise RestError(400, "MESSAGE_EMPTY", "Message can't be empty")
    post_message(state, chat, bot_id, text)
    return True
