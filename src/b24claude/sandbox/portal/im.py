"""Users, departments, chats and messages; simulated customers and employees; bot event emission.

The REST methods of bots live in ``bots.py`` and of Open Lines in ``openlines.py``.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from .base import JSON, PAGE, Caller, Paged, Registry, RestError, as_int, as_list, param
from .state import Bot, Chat, Line, Message, Session

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()
CHAT_TYPE_V2 = {"P": "private", "C": "chat", "L": "lines"}


# ----- users --------------------------------------------------------------------------------------
def add_user(
    state: PortalState,
    uid: int | None,
    first: str,
    last: str = "",
    *,
    second_name: str = "",
    gender: str = "",
    position: str = "",
    departments: list[int] | None = None,
    email: str = "",
    admin: bool = False,
    bot: bool = False,
    connector: bool = False,
    phone: str = "",
) -> int:
    uid = uid if uid is not None else state.next_id("user", 101)
    state.users[uid] = {
        "ID": str(uid),
        "ACTIVE": True,
        "NAME": first,
        "LAST_NAME": last,
        "SECOND_NAME": second_name,
        "EMAIL": email,
        "PERSONAL_GENDER": gender,
        "PERSONAL_MOBILE": phone,
        "WORK_POSITION": position,
        "UF_DEPARTMENT": list(departments or []),
        "IS_ONLINE": "Y" if not connector else "N",
        "USER_TYPE": "extranet" if connector else "employee",
        "TIME_ZONE": "Europe/Moscow",
        "_ADMIN": admin,
        "_BOT": bot,
        "_CONNECTOR": connector,
    }
    return uid


def public_user(user: JSON) -> JSON:
    return {k: v for k, v in user.items() if not k.startswith("_")}


def full_name(state: PortalState, uid: int) -> str:
    user = state.users.get(uid, {})
    return f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".strip() or f"User {uid}"


def event_user(state: PortalState, uid: int) -> JSON:
    """``data[USER]`` of classic bot events."""
    user = state.users.get(uid, {})
    return {
        "ID": str(uid),
        "NAME": full_name(state, uid),
        "FIRST_NAME": user.get("NAME", ""),
        "LAST_NAME": user.get("LAST_NAME", ""),
        "WORK_POSITION": user.get("WORK_POSITION", ""),
        "GENDER": user.get("PERSONAL_GENDER", "") or "M",
        "IS_BOT": "Y" if user.get("_BOT") else "N",
        "IS_CONNECTOR": "Y" if user.get("_CONNECTOR") else "N",
        "IS_NETWORK": "N",
        "IS_EXTRANET": "N",
    }


@methods.add("user.get", scope=("user", "user_basic", "user_brief"))
async def user_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    from .crm import matches

    flt = dict(param(params, "FILTER") or param(params, "filter") or {})
    for key in ("ID", "ACTIVE", "UF_DEPARTMENT", "USER_TYPE", "EMAIL"):
        if key in params and key not in flt:
            flt[key] = params[key]
    search = str(flt.pop("NAME_SEARCH", "") or flt.pop("FIND", "") or "").lower()
    explicit_ids = "ID" in flt
    found = []
    for uid in sorted(state.users):
        user = state.users[uid]
        if (user["_BOT"] or user["_CONNECTOR"]) and not explicit_ids:
            continue
        view = {**user, "UF_DEPARTMENT": user["UF_DEPARTMENT"]}
        dep = flt.get("UF_DEPARTMENT")
        rest = {k: v for k, v in flt.items() if k != "UF_DEPARTMENT"}
        if dep is not None and as_int(dep) not in user["UF_DEPARTMENT"]:
            continue
        if rest and not matches(
            {k: ("Y" if v is True else v) for k, v in view.items()},
            {k: ("Y" if v is True or v == "true" else v) for k, v in rest.items()},
            3,
        ):
            continue
        if search and search not in f"{user['NAME']} {user['LAST_NAME']} {user['EMAIL']}".lower():
            continue
        found.append(public_user(user))
    start = as_int(param(params, "start"), 0)
    if start == -1:
        return Paged(found[:PAGE])
    nxt = start + PAGE if start + PAGE < len(found) else None
    return Paged(found[start : start + PAGE], total=len(found), next=nxt)


@methods.add("user.current", scope=("user", "user_basic", "user_brief"))
async def user_current(state: PortalState, caller: Caller, params: JSON) -> Any:
    return public_user(state.users[caller.user_id])


@methods.add("user.admin")
async def user_admin(state: PortalState, caller: Caller, params: JSON) -> Any:
    """Whether the caller may manage applications (api-reference/common/users/user-admin.md; no scope)."""
    return bool(state.users[caller.user_id]["_ADMIN"])


@methods.add("profile")
async def profile(state: PortalState, caller: Caller, params: JSON) -> Any:
    user = state.users[caller.user_id]
    return {
        "ID": user["ID"],
        "ADMIN": bool(user["_ADMIN"]),
        "NAME": user["NAME"],
        "LAST_NAME": user["LAST_NAME"],
        "PERSONAL_GENDER": user["PERSONAL_GENDER"],
        "PERSONAL_PHOTO": "",
        "TIME_ZONE": "Europe/Moscow",
        "TIME_ZONE_OFFSET": state.config.utc_offset_hours * 3600,
    }


@methods.add("department.get", scope="department")
async def department_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    out = []
    for dep in state.departments.values():
        if any(
            param(params, k) not in (None, "") and str(param(params, k)) != str(dep[k])
            for k in ("ID", "NAME", "PARENT", "UF_HEAD")
        ):
            continue
        out.append(dict(dep))
    return Paged(out, total=len(out))


# ----- chats and messages -------------------------------------------------------------------------
def new_chat(state: PortalState, chat_type: str, title: str, owner: int, members: list[int]) -> Chat:
    chat = Chat(
        id=state.next_id("chat", 2801),
        type=chat_type,
        title=title,
        owner_id=owner,
        author_id=owner,
        members=list(dict.fromkeys(members)),
        date_create=state.now(),
    )
    state.chats[chat.id] = chat
    state.chat_index[chat.id] = []
    return chat


def private_chat(state: PortalState, a: int, b: int) -> tuple[Chat, bool]:
    for chat in state.chats.values():
        if chat.type == "P" and set(chat.members) == {a, b}:
            return chat, False
    return new_chat(state, "P", "", a, [a, b]), True


def resolve_dialog(state: PortalState, dialog_id: Any, speaker: int) -> Chat:
    """``chat<id>`` or a user id (private dialogue with ``speaker``)."""
    text = str(dialog_id or "").strip()
    if not text:
        raise RestError(400, "DIALOG_ID_EMPTY", "Dialog ID can't be empty")
    m = re.fullmatch(r"chat(\d+)", text)
    if m:
        chat = state.chats.get(int(m.group(1)))
        if chat is None:
            raise RestError(400, "ACCESS_ERROR", "You do not have access to the specified dialog")
        return chat
    uid = as_int(text)
    if uid not in state.users:
        raise RestError(400, "ACCESS_ERROR", "You do not have access to the specified dialog")
    return private_chat(state, speaker, uid)[0]


def dialog_id_for(chat: Chat, viewer: int) -> str:
    if chat.type == "P":
        other = next((m for m in chat.members if m != viewer), viewer)
        return str(other)
    return f"chat{chat.id}"


def post_message(
    state: PortalState,
    chat: Chat,
    author_id: int,
    text: str,
    *,
    system: bool = False,
    params: JSON | None = None,
) -> Message:
    msg = Message(
        id=state.next_id("message", 91501),
        chat_id=chat.id,
        author_id=author_id,
        text=text,
        system=system,
        date=state.now(),
        params=dict(params or {}),
    )
    state.messages[msg.id] = msg
    state.chat_index.setdefault(chat.id, []).append(msg.id)
    return msg


def prev_message_id(state: PortalState, msg: Message) -> int:
    ids = state.chat_index.get(msg.chat_id, [])
    pos = ids.index(msg.id)
    return ids[pos - 1] if pos > 0 else 0


# ----- Open Lines sessions ------------------------------------------------------------------------
def sync_entity(state: PortalState, chat: Chat) -> None:
    """Rebuild ENTITY_DATA_1/2 from the session's CRM bindings (imopenlines/lib/chat.php format)."""
    session = state.sessions.get(chat.session_id)
    if session is None:
        return
    crm = session.crm
    if crm["DEAL"]:
        session.crm_entity_type, session.crm_entity_id = "DEAL", crm["DEAL"]
    elif crm["LEAD"]:
        session.crm_entity_type, session.crm_entity_id = "LEAD", crm["LEAD"]
    elif crm["CONTACT"]:
        session.crm_entity_type, session.crm_entity_id = "CONTACT", crm["CONTACT"]
    elif crm["COMPANY"]:
        session.crm_entity_type, session.crm_entity_id = "COMPANY", crm["COMPANY"]
    has = "Y" if session.crm_entity_id else "N"
    chat.entity_data_1 = (
        f"{has}|{session.crm_entity_type}|{session.crm_entity_id}|N|N|{session.id}|"
        f"{int(session.started)}|0|0|0"
    )
    chat.entity_data_2 = "|".join(f"{k}|{crm[k]}" for k in ("LEAD", "COMPANY", "CONTACT", "DEAL"))
    chat.entity_data_3 = "N"


def bind_crm(state: PortalState, chat: Chat, entity: str, entity_id: int) -> None:
    session = state.sessions.get(chat.session_id)
    if session is not None:
        session.crm[entity.upper()] = entity_id
        sync_entity(state, chat)


def _bind_customer_crm(state: PortalState, session: Session, profile: JSON, line: Line) -> None:
    from .crm import find_by_comm, log_write, store_new

    phone, email = str(profile.get("phone") or ""), str(profile.get("email") or "")
    found: JSON = {}
    for kind, value in (("PHONE", phone), ("EMAIL", email)):
        if value:
            for name, ids in find_by_comm(state, kind, [value]).items():
                found.setdefault(name, ids)
    if "CONTACT" in found:
        contact_id = found["CONTACT"][0]
        contact = state.crm[3][contact_id]
        session.crm["CONTACT"] = contact_id
        session.crm["COMPANY"] = as_int(contact.get("COMPANY_ID"))
        open_deals = [
            d
            for d in state.crm[2].values()
            if as_int(d.get("CONTACT_ID")) == contact_id and d.get("CLOSED") != "Y"
        ]
        if open_deals:
            session.crm["DEAL"] = max(as_int(d["ID"]) for d in open_deals)
        return
    if "LEAD" in found:
        session.crm["LEAD"] = found["LEAD"][0]
        return
    name = f"{profile.get('name', '')} {profile.get('last_name', '')}".strip() or "Гость"
    fields: JSON = {
        "TITLE": f"{name} - {line.name}",
        "NAME": profile.get("name", ""),
        "LAST_NAME": profile.get("last_name", ""),
        "SOURCE_ID": "OPENLINE",
        "ASSIGNED_BY_ID": str(line.queue[0] if line.queue else 1),
    }
    if phone:
        fields["PHONE"] = [{"VALUE": phone, "VALUE_TYPE": "WORK"}]
    if email:
        fields["EMAIL"] = [{"VALUE": email, "VALUE_TYPE": "WORK"}]
    lead_id = store_new(state, 1, fields)
    log_write(state, "imopenlines.crm.lead.create", 1, lead_id, fields, "openlines")
    session.crm["LEAD"] = lead_id


def start_session(state: PortalState, chat: Chat, line: Line, profile: JSON) -> Session:
    session = Session(
        id=state.next_id("session", 3101),
        chat_id=chat.id,
        line_id=line.id,
        customer_id=chat.customer_id,
        operator_id=0,
        started=state.now(),
    )
    state.sessions[session.id] = session
    chat.session_id = session.id
    _bind_customer_crm(state, session, profile, line)
    sync_entity(state, chat)
    bot = state.bots.get(line.welcome_bot_id) if line.welcome_bot_enable else None
    if bot is not None:
        set_operator(state, chat, bot.id)
        emit_join(state, bot, chat, chat.customer_id)
    else:
        set_operator(state, chat, line.queue[0] if line.queue else 1)
    return session


def set_operator(state: PortalState, chat: Chat, operator_id: int) -> None:
    session = state.sessions.get(chat.session_id)
    if session is not None:
        session.operator_id = operator_id
    if operator_id not in chat.members:
        chat.members.append(operator_id)
    if not chat.author_id or chat.author_id == chat.customer_id:
        chat.author_id = chat.owner_id = operator_id


def customer_key(customer: str | JSON) -> str:
    if isinstance(customer, str):
        return customer
    for key in ("key", "phone", "email", "name"):
        if customer.get(key):
            value = str(customer[key])
            return value if key in ("key", "name") else f"{key}:{value.lower()}"
    return "guest"


async def customer_writes(
    state: PortalState,
    text: str,
    customer: str | JSON,
    *,
    line_id: int,
    channel: str,
    files: list[JSON] | None = None,
) -> Message:
    line = state.lines.get(line_id)
    if line is None:
        raise ValueError(f"no Open Line {line_id}")
    key = customer_key(customer)
    if isinstance(customer, dict):
        profile = dict(customer)
    else:
        profile = dict(state.customer_profiles.get(key) or {"name": key})
    uid = state.customers.get(key)
    if uid is None:
        uid = add_user(
            state,
            None,
            str(profile.get("name") or key),
            str(profile.get("last_name") or ""),
            gender=str(profile.get("gender") or ""),
            email=str(profile.get("email") or ""),
            phone=str(profile.get("phone") or ""),
            connector=True,
        )
        state.customers[key] = uid
    chat = next(
        (
            c
            for c in state.chats.values()
            if c.type == "L" and c.customer_id == uid and c.line_id == line_id and c.connector == channel
        ),
        None,
    )
    if chat is None:
        chat = new_chat(state, "L", f"{full_name(state, uid)} - {line.name}", uid, [uid])
        chat.customer_id, chat.line_id, chat.connector = uid, line_id, channel
        connector_chat = state.next_id("livechat", 2700) if channel == "livechat" else 100_000_000 + uid * 7
        chat.entity_type = "LINES"
        chat.entity_id = f"{channel}|{line_id}|{connector_chat}|{uid}"
        start_session(state, chat, line, profile)
    else:
        session = state.sessions.get(chat.session_id)
        if session is None or session.finished is not None:
            start_session(state, chat, line, profile)
    params: JSON = {"CONNECTOR": channel}
    if files:
        params["FILE_ID"] = [add_chat_file(state, chat, uid, f)["id"] for f in files]
    msg = post_message(state, chat, uid, text, params=params)
    from .commands import notify_or_command

    notify_or_command(state, chat, msg)
    return msg


_EXTENSION_TYPES = {
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "gif": "image",
    "webp": "image",
    "mp4": "video",
    "mov": "video",
    "mp3": "audio",
    "ogg": "audio",
    "m4a": "audio",
}


def add_chat_file(state: PortalState, chat: Chat, author_id: int, spec: JSON) -> JSON:
    """A file the customer sent, as the ``File`` entity of chat-bots-v2/entities.md plus the links the im
    methods return (``urlShow``, ``urlDownload``), stored in the chat's folder."""
    name = str(spec.get("name") or "").strip()
    if not name:
        raise ValueError("a file needs a 'name'")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    file_id = state.next_id("chat_file", 7301)
    base = state.base_url
    entry: JSON = {
        "id": file_id,
        "chatId": chat.id,
        "date": state.iso(),
        "type": str(spec.get("type") or _EXTENSION_TYPES.get(extension, "file")),
        "name": name,
        "extension": extension,
        "size": int(spec.get("size") or 1024),
        "image": {"height": 600, "width": 800} if _EXTENSION_TYPES.get(extension) == "image" else False,
        "status": "done",
        "authorId": author_id,
        "authorName": full_name(state, author_id),
        "urlShow": f"{base}/disk/showFile/{file_id}/?&ncc=1&ts={int(state.now())}&filename={name}",
        "urlDownload": f"{base}/disk/downloadFile/{file_id}/?&ncc=1&filename={name}",
    }
    state.chat_files[file_id] = entry
    return entry


def message_files(state: PortalState, msg: Message) -> list[JSON]:
    return [state.chat_files[i] for i in msg.params.get("FILE_ID") or () if i in state.chat_files]


async def employee_writes(
    state: PortalState, text: str, *, user_id: int, bot_id: int | None, chat_id: int | None
) -> Message:
    if chat_id is not None:
        chat = state.chats[chat_id]
    else:
        if bot_id is None:
            bot_id = next(iter(state.bots), None)
        if bot_id is None or bot_id not in state.bots:
            raise ValueError("no bot to write to")
        chat, created = private_chat(state, user_id, bot_id)
        if created:
            emit_join(state, state.bots[bot_id], chat, user_id)
    msg = post_message(state, chat, user_id, text)
    from .commands import notify_or_command

    notify_or_command(state, chat, msg)
    return msg


# ----- bot events ---------------------------------------------------------------------------------
def bots_to_notify(state: PortalState, chat: Chat, msg: Message) -> list[Bot]:
    """Who gets ONIMBOTMESSAGEADD: the bot operator of a line, the bot of a private chat, group bots
    that are mentioned (type S / supervisor / personal: always). Never the author itself."""
    targets: list[Bot] = []
    if chat.type == "L":
        session = state.sessions.get(chat.session_id)
        if session is not None and session.finished is None and session.operator_id in state.bots:
            targets.append(state.bots[session.operator_id])
    else:
        for member in chat.members:
            bot = state.bots.get(member)
            if bot is None:
                continue
            mentioned = f"[USER={bot.id}]" in msg.text
            if chat.type == "P" or mentioned or bot.type in ("S", "supervisor", "personal"):
                targets.append(bot)
    return [b for b in targets if b.id != msg.author_id]


def notify_bots(state: PortalState, chat: Chat, msg: Message, *, skip_bot: int = 0) -> None:
    if msg.system and chat.type == "L" and msg.author_id in state.bots:
        return
    for bot in bots_to_notify(state, chat, msg):
        if bot.id == skip_bot:  # it got the message as its command's event (commands.notify_or_command)
            continue
        if bot.api == "v1":
            _send_v1(
                state,
                bot,
                "ONIMBOTMESSAGEADD",
                "EVENT_MESSAGE_ADD",
                chat,
                {
                    "BOT": _v1_bot_block(state, bot),
                    "PARAMS": _v1_params(state, bot, chat, msg),
                    "USER": event_user(state, msg.author_id),
                },
                msg.author_id,
            )
        else:
            _push_v2(
                state,
                bot,
                "ONIMBOTV2MESSAGEADD",
                chat,
                {
                    "bot": _v2_bot(bot),
                    "message": _v2_message(state, msg),
                    "chat": _v2_chat(chat, msg.author_id),
                    "user": _v2_user(state, msg.author_id),
                    "language": bot.language,
                    **({"files": files} if (files := message_files(state, msg)) else {}),
                },
            )


def emit_join(state: PortalState, bot: Bot, chat: Chat, user_id: int) -> None:
    if bot.api == "v1":
        params: JSON = {
            "CHAT_TYPE": chat.type,
            "MESSAGE_TYPE": chat.type,
            "BOT_ID": str(bot.id),
            "USER_ID": str(user_id),
        }
        if chat.type == "P":
            params.update({"TO_USER_ID": str(bot.id), "FROM_USER_ID": str(user_id)})
        else:
            params.update(
                {
                    "CHAT_ID": str(chat.id),
                    "CHAT_AUTHOR_ID": str(chat.author_id),
                    "CHAT_ENTITY_TYPE": chat.entity_type,
                    "CHAT_ENTITY_ID": chat.entity_id,
                    "ACCESS_HISTORY": "1",
                }
            )
        params.update({"DIALOG_ID": dialog_id_for(chat, bot.id), "LANGUAGE": bot.language})
        _send_v1(
            state,
            bot,
            "ONIMBOTJOINCHAT",
            "EVENT_WELCOME_MESSAGE",
            chat,
            {"BOT": _v1_bot_block(state, bot), "PARAMS": params, "USER": event_user(state, user_id)},
            user_id,
        )
    else:
        _push_v2(
            state,
            bot,
            "ONIMBOTV2JOINCHAT",
            chat,
            {
                "bot": _v2_bot(bot),
                "chat": _v2_chat(chat, user_id),
                "user": _v2_user(state, user_id),
                "language": bot.language,
            },
        )


def _app_for(state: PortalState, bot: Bot) -> Any:
    return state.apps.get(bot.client_id)


def _v1_bot_block(state: PortalState, bot: Bot) -> JSON:
    from .auth import event_auth

    app = _app_for(state, bot)
    block: JSON = {}
    if app is not None:
        auth = event_auth(state, app, bot.id, client_id=True)
        block.update(auth)
        block["AUTH"] = dict(auth)
    block.update({"BOT_ID": str(bot.id), "BOT_CODE": bot.code})
    return {str(bot.id): block}


def _v1_params(state: PortalState, bot: Bot, chat: Chat, msg: Message) -> JSON:
    common_tail = {
        "PUSH": "Y",
        "PUSH_IMPORTANT": "N",
        "RECENT_SKIP_AUTHOR": "N",
        "CONVERT": "N",
        "SKIP_COMMAND": "N",
        "SKIP_COUNTER_INCREMENTS": "N",
        "SILENT_CONNECTOR": "N",
        "SKIP_CONNECTOR": "N",
        "IMPORTANT_CONNECTOR": "N",
        "NO_SESSION_OL": "N",
        "FAKE_RELATION": "0",
        "SKIP_URL_INDEX": "N",
        "COMMAND_CONTEXT": "TEXTAREA",
        "CHAT_USER_COUNT": str(len(chat.members)),
        "PLATFORM_CONTEXT": "web",
        "MESSAGE_ID": str(msg.id),
    }
    params: JSON = {
        "MESSAGE": msg.text,
        "TEMPLATE_ID": str(uuid.uuid4()),
        "MESSAGE_TYPE": chat.type,
        "FROM_USER_ID": str(msg.author_id),
        "DIALOG_ID": dialog_id_for(chat, bot.id),
        "TO_CHAT_ID": str(chat.id),
        "AUTHOR_ID": str(msg.author_id),
        "SYSTEM": "Y" if msg.system else "N",
    }
    if chat.type == "P":
        params["TO_USER_ID"] = str(bot.id)
        params.update(common_tail)
        params["CHAT_TYPE"] = "P"
    else:
        params.update(
            {
                "CHAT_ID": str(chat.id),
                "CHAT_TITLE": chat.title,
                "CHAT_AUTHOR_ID": str(chat.author_id),
                "CHAT_TYPE": chat.type,
                "CHAT_AVATAR": "0",
                "CHAT_COLOR": chat.color,
                "CHAT_ENTITY_TYPE": chat.entity_type,
                "CHAT_ENTITY_ID": chat.entity_id,
                "CHAT_ENTITY_DATA_1": chat.entity_data_1,
                "CHAT_ENTITY_DATA_2": chat.entity_data_2,
                "CHAT_ENTITY_DATA_3": chat.entity_data_3,
                "CHAT_EXTRANET": "N",
                "CHAT_PREV_MESSAGE_ID": str(prev_message_id(state, msg)),
                "CHAT_CAN_POST": "MEMBER",
                "RID": str(bot.id),
                "IS_MANAGER": "N",
            }
        )
        params.update(common_tail)
    params["LANGUAGE"] = bot.language
    files = message_files(state, msg)
    if files:
        params["PARAMS"] = {"FILE_ID": [str(f["id"]) for f in files]}
        params["FILES"] = {str(f["id"]): {k: _v1_scalar(v) for k, v in f.items()} for f in files}
    return params


def _v1_scalar(value: Any) -> Any:
    # Classic events are form-encoded by http_build_query: scalars arrive as strings.
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, dict):
        return {k: str(v) for k, v in value.items()}
    return str(value)


def _send_v1(
    state: PortalState, bot: Bot, event: str, handler_key: str, chat: Chat, data: JSON, author_id: int
) -> None:
    from .auth import event_auth

    url = bot.handlers.get(handler_key)
    if not url:
        return
    body: JSON = {
        "event": event,
        "event_handler_id": str(400 + bot.id),
        "data": data,
        "ts": str(int(state.now())),
    }
    app = _app_for(state, bot)
    if app is not None:
        body["auth"] = event_auth(state, app, author_id, with_refresh=False)
    state.deliverer.send_form(url, body, event=event, order_key=f"chat{chat.id}")


def _v2_bot(bot: Bot) -> JSON:
    return {"id": bot.id, "code": bot.code, "type": bot.type}


def _v2_message(state: PortalState, msg: Message) -> JSON:
    return {
        "id": msg.id,
        "chatId": msg.chat_id,
        "authorId": msg.author_id,
        "date": state.iso(msg.date),
        "text": msg.text,
        "isSystem": msg.system,
        "uuid": None,
        "forward": None,
        "params": {k: v for k, v in msg.params.items() if k not in ("CONNECTOR",)},
    }


def _v2_chat(chat: Chat, viewer: int) -> JSON:
    return {
        "id": chat.id,
        "dialogId": f"chat{chat.id}" if chat.type != "P" else str(viewer),
        "type": CHAT_TYPE_V2.get(chat.type, "chat"),
        "name": chat.title,
        "entityType": chat.entity_type,
        "entityId": chat.entity_id,
        "entityData1": chat.entity_data_1,
        "entityData2": chat.entity_data_2,
        "entityData3": chat.entity_data_3,
        "owner": chat.owner_id,
    }


def _v2_user(state: PortalState, uid: int) -> JSON:
    user = state.users.get(uid, {})
    return {
        "id": uid,
        "name": full_name(state, uid),
        "firstName": user.get("NAME", ""),
        "lastName": user.get("LAST_NAME", ""),
        "workPosition": user.get("WORK_POSITION", ""),
        "gender": user.get("PERSONAL_GENDER", "") or "M",
        "extranet": bool(user.get("_CONNECTOR")),
        "bot": bool(user.get("_BOT")),
        "connector": bool(user.get("_CONNECTOR")),
        "type": "bot" if user.get("_BOT") else ("extranet" if user.get("_CONNECTOR") else "user"),
    }


def _push_v2(state: PortalState, bot: Bot, event_type: str, chat: Chat, data: JSON) -> None:
    event: JSON = {
        "eventId": state.next_id("v2event", 1001),
        "type": event_type,
        "date": state.iso(),
        "data": data,
    }
    if bot.event_mode == "webhook" and bot.webhook_url:
        state.deliverer.send_json(
            bot.webhook_url,
            {"event": event_type, "data": data, "eventId": event["eventId"]},
            event=event_type,
            order_key=f"chat{chat.id}",
        )
    else:
        bot.events.append(event)


@methods.add("im.notify.system.add", scope="im", app_only=True)
async def notify_system_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    """A system notification from the app (api-reference/chats/notifications/im-notify-system-add.md):
    app context only; a TAG replaces the app's earlier notification with the same tag."""
    user_id = as_int(param(params, "USER_ID"))
    if user_id <= 0 or user_id not in state.users:
        raise RestError(400, "USER_ID_EMPTY", "User ID can't be empty")
    message = str(param(params, "MESSAGE", "") or "").strip()
    if not message:
        raise RestError(400, "MESSAGE_EMPTY", "Message can't be empty")
    tag = str(param(params, "TAG", "") or "")
    if tag:
        state.notifications = [
            n for n in state.notifications if not (n["tag"] == tag and n["client_id"] == caller.client_id)
        ]
    note_id = state.next_id("notification", 12001)
    state.notifications.append(
        {"id": note_id, "user_id": user_id, "message": message, "tag": tag, "client_id": caller.client_id}
    )
    return note_id


@methods.add("im.dialog.messages.get", scope="im")
async def dialog_messages_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    chat = resolve_dialog(state, param(params, "DIALOG_ID"), caller.user_id)
    limit = min(max(as_int(param(params, "LIMIT"), 20), 1), 50)
    first_id, last_id = as_int(param(params, "FIRST_ID")), as_int(param(params, "LAST_ID"))
    msgs = [state.messages[m] for m in state.chat_index.get(chat.id, []) if not state.messages[m].deleted]
    if first_id:
        msgs = [m for m in msgs if m.id > first_id][:limit]
    else:
        if last_id:
            msgs = [m for m in msgs if m.id < last_id]
        msgs = msgs[-limit:]
    msgs.sort(key=lambda m: -m.id)
    authors = sorted({m.author_id for m in msgs})
    return {
        "chat_id": chat.id,
        "messages": [
            {
                "id": m.id,
                "chat_id": m.chat_id,
                "author_id": 0 if m.system else m.author_id,
                "date": state.iso(m.date),
                "text": m.text,
                "unread": False,
                "uuid": None,
                "replaces": [],
                "params": {k: v for k, v in m.params.items() if k != "CONNECTOR"},
            }
            for m in msgs
        ],
        "files": [f for m in msgs for f in message_files(state, m)],
        "users": [
            {
                "id": uid,
                "name": full_name(state, uid),
                "bot": bool(state.users.get(uid, {}).get("_BOT")),
                "connector": bool(state.users.get(uid, {}).get("_CONNECTOR")),
            }
            for uid in authors
        ],
    }


def as_str_list(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]
