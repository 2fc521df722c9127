"""Parsing and validation of inbound Bitrix24 events, and their inbox keys (DESIGN.md §7).

Classic events arrive form-encoded with PHP bracket keys (reference/bitrix24.md §2.2, §4.3);
imbot.v2 events arrive as JSON objects from ``imbot.v2.Event.get`` (§4.4). Both are stored raw
(minus tokens) in the inbox and turned into :data:`Update` objects only when processed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from b24claude.errors import BadRequest, Unauthorized
from b24claude.events.models import (
    AppInstalled,
    AppUninstalled,
    BotDeleted,
    BotJoined,
    CommandInvoked,
    CrmChanged,
    IncomingMessage,
    UnknownEvent,
    Update,
)
from b24claude.kit.files import parse_files
from b24claude.kit.openlines import bindings_from_entity_data, parse_entity_data_1
from b24claude.ports.bitrix import CrmRefs

# Bitrix24's own limit on a chat message (api-reference/chat-bots/chat-bots-v2/index.md, "Лимиты":
# 20 000 characters); a classic event carrying more did not come from a portal.
MAX_MESSAGE_CHARS = 20_000

# Keys that carry secrets in classic events; never stored in the inbox nor logged.
_TOKEN_KEYS = frozenset({"access_token", "refresh_token", "application_token", "AUTH"})


class ClassicAuth(BaseModel):
    model_config = ConfigDict(extra="allow")

    member_id: str = Field(min_length=1, max_length=64)
    application_token: str = Field(default="", max_length=128)
    domain: str = Field(default="", max_length=255)
    access_token: str = ""
    refresh_token: str = ""
    expires_in: str = ""
    expires: str = ""
    client_endpoint: str = Field(default="", max_length=2048)
    server_endpoint: str = Field(default="", max_length=2048)
    scope: str = ""
    status: str = ""


class ClassicEnvelope(BaseModel):
    """The top level of every classic (form-encoded) Bitrix24 event."""

    model_config = ConfigDict(extra="allow")

    event: str = Field(min_length=1, max_length=128)
    event_handler_id: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    ts: str = ""
    auth: ClassicAuth

    @property
    def name(self) -> str:
        return self.event.upper()


def parse_classic_envelope(form: Mapping[str, Any]) -> ClassicEnvelope:
    """Validate a parsed form; raises :class:`BadRequest` with a reason a human can act on."""
    auth = form.get("auth")
    # No credentials at all is an authentication failure (401), like a wrong token, not a shape error.
    if not isinstance(auth, Mapping):
        raise Unauthorized("auth block is missing")
    if not auth.get("member_id"):
        raise Unauthorized("auth.member_id is missing")
    if isinstance(form.get("data"), str):
        # Bitrix24 drops empty arrays, but a plain string where a group belongs is malformed.
        if form["data"]:
            raise BadRequest("data must be a group of fields")
        form = {**form, "data": {}}
    try:
        env = ClassicEnvelope.model_validate(form)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"{where or 'body'}: {first.get('msg', 'invalid')}") from exc
    params = env.data.get("PARAMS")
    message = params.get("MESSAGE") if isinstance(params, Mapping) else None
    if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
        raise BadRequest(f"data.PARAMS.MESSAGE: longer than {MAX_MESSAGE_CHARS} characters")
    return env


def strip_secrets(value: Any) -> Any:
    """A copy of an event payload without tokens (they live in the portal store, not the inbox)."""
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items() if k not in _TOKEN_KEYS}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def inbox_key_for_classic(env: ClassicEnvelope) -> str:
    """Unique key of a classic event within its portal.

    A new message has the id Bitrix24 gave it; a bot deletion the bot's id. Every other event
    carries no id Bitrix24 promises to be unique (``ts`` has a one-second grain, a keyboard press
    repeats the message id), so the event itself is its identity: a digest of its name, time,
    handler and data. A verbatim re-delivery maps to the same key; two different events never do.
    """
    raw_params = env.data.get("PARAMS")
    params: Mapping[str, Any] = raw_params if isinstance(raw_params, Mapping) else {}
    name = env.name
    if name == "ONIMBOTMESSAGEADD" and str(params.get("MESSAGE_ID") or "").isdigit():
        return f"v1:{name}:{params['MESSAGE_ID']}"
    if name == "ONIMBOTDELETE" and str(env.data.get("BOT_ID") or "").isdigit():
        return f"v1:{name}:{env.data['BOT_ID']}"
    return f"v1:{name}:h:{_event_digest(env)}"


def _event_digest(env: ClassicEnvelope) -> str:
    identity = {
        "event": env.name,
        "ts": env.ts,
        "handler": env.event_handler_id,
        "data": strip_secrets(env.data),
    }
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def inbox_key_for_v2(bot_id: int, event_id: int) -> str:
    return f"v2:{bot_id}:{event_id}"


def classic_payload(env: ClassicEnvelope) -> dict[str, Any]:
    """What the inbox keeps of a classic event."""
    return {
        "api": "v1",
        "event": env.name,
        "data": strip_secrets(env.data),
        "ts": env.ts,
        "domain": env.auth.domain,
    }


def v2_payload(bot_id: int, event_id: int, event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "api": "v2",
        "event": event_type.upper(),
        "event_id": event_id,
        "bot_id": bot_id,
        "data": dict(data),
    }


def dialog_key_of_payload(payload: Mapping[str, Any]) -> str:
    """The serialisation key of a stored event ('' = no dialogue)."""
    data = payload.get("data") or {}
    if payload.get("api") == "v2":
        chat = data.get("chat") or {}
        dialog = chat.get("dialogId") or (f"chat{chat['id']}" if chat.get("id") else "")
    else:
        params = data.get("PARAMS") or {}
        dialog = params.get("DIALOG_ID", "")
    return f"dlg:{dialog}" if dialog else ""


# --- payload -> Update --------------------------------------------------------------------------


def update_from_payload(member_id: str, payload: Mapping[str, Any]) -> Update:
    """Turn a stored inbox payload into a typed update; unknown shapes become :class:`UnknownEvent`."""
    event = str(payload.get("event", "")).upper()
    data = payload.get("data") or {}
    if not isinstance(data, Mapping):
        return UnknownEvent(member_id, event)
    try:
        if payload.get("api") == "v2":
            return _from_v2(member_id, event, int(payload.get("bot_id") or 0), data)
        if payload.get("api") == "offline":
            return _from_offline(member_id, event, data)
        return _from_v1(member_id, event, data)
    except (KeyError, ValueError, TypeError):
        return UnknownEvent(member_id, event)


# The CRM events we bind as offline events: ONCRM<ENTITY><ACTION>.
CRM_OFFLINE_EVENTS = tuple(
    f"ONCRM{entity}{action}"
    for entity in ("CONTACT", "LEAD", "COMPANY")
    for action in ("UPDATE", "DELETE")
)


def offline_payload(record_id: int, event: str, message_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """How an offline event (``event.offline.get``) is stored in the inbox."""
    return {
        "api": "offline",
        "event": event.upper(),
        "id": record_id,
        "message_id": message_id,
        "data": dict(data),
    }


def inbox_key_for_offline(record_id: int) -> str:
    # The record's ID, not its MESSAGE_ID: the MESSAGE_ID is the same for the same object's next
    # change, the ID of a record we read (and so reserved) is never reused for another change.
    return f"offline:{record_id}"


def _from_offline(member_id: str, event: str, data: Mapping[str, Any]) -> Update:
    if not event.startswith("ONCRM"):
        return UnknownEvent(member_id, event)
    for action in ("ADD", "UPDATE", "DELETE"):
        if event.endswith(action):
            entity = event[len("ONCRM") : -len(action)].lower()
            break
    else:
        return UnknownEvent(member_id, event)
    fields = data.get("FIELDS") or {}
    entity_id = _int(fields.get("ID")) if isinstance(fields, Mapping) else 0
    if entity not in ("contact", "lead", "company") or entity_id <= 0:
        return UnknownEvent(member_id, event)
    return CrmChanged(member_id, entity, entity_id, action.lower())


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _yes(value: Any) -> bool:
    return value is True or str(value).upper() in {"Y", "TRUE", "1"}


def _refs(entity_data_2: str, entity_data_1: str) -> tuple[CrmRefs, int | None]:
    refs = bindings_from_entity_data(entity_data_1 or None, entity_data_2 or None)
    return refs, parse_entity_data_1(entity_data_1).session_id if entity_data_1 else None


def _from_v1(member_id: str, event: str, data: Mapping[str, Any]) -> Update:
    if event == "ONAPPINSTALL":
        return AppInstalled(member_id, language=str(data.get("LANGUAGE_ID", "")))
    if event == "ONAPPUNINSTALL":
        return AppUninstalled(member_id, clean=_yes(data.get("CLEAN")))
    if event == "ONIMBOTDELETE":
        return BotDeleted(member_id, _int(data.get("BOT_ID")))
    params = data.get("PARAMS") or {}
    bots = data.get("BOT") or {}
    bot_id = _int(next(iter(bots), 0)) if isinstance(bots, Mapping) else 0
    if event == "ONIMBOTJOINCHAT":
        return BotJoined(
            member_id,
            bot_id=bot_id or _int(params.get("BOT_ID")),
            bot_api="v1",
            dialog_id=str(params.get("DIALOG_ID", "")),
            chat_type=str(params.get("CHAT_TYPE", "")),
            user_id=_int(params.get("USER_ID")),
            language=str(params.get("LANGUAGE", "")),
        )
    if event == "ONIMCOMMANDADD":
        return _command_v1(member_id, data)
    if event != "ONIMBOTMESSAGEADD":
        return UnknownEvent(member_id, event)
    return _message_v1(member_id, bot_id, data)


def _command_v1(member_id: str, data: Mapping[str, Any]) -> Update:
    """``data[COMMAND][<COMMAND_ID>]`` = the bot's auth block + ``BOT_ID, COMMAND, COMMAND_ID, COMMAND_PARAMS,
    COMMAND_CONTEXT, MESSAGE_ID``; ``data[PARAMS]`` and ``data[USER]`` as in ONIMBOTMESSAGEADD
    (reference/bitrix24.md §4.3, fixture ONIMCOMMANDADD_keyboard.json)."""
    commands = data.get("COMMAND") or {}
    if not isinstance(commands, Mapping) or not commands:
        return UnknownEvent(member_id, "ONIMCOMMANDADD")
    cmd = next(iter(commands.values()))
    if not isinstance(cmd, Mapping):
        return UnknownEvent(member_id, "ONIMCOMMANDADD")
    params = dict(data.get("PARAMS") or {})
    if cmd.get("MESSAGE_ID") and not params.get("MESSAGE_ID"):
        params["MESSAGE_ID"] = cmd["MESSAGE_ID"]
    msg = _message_v1(member_id, _int(cmd.get("BOT_ID")), {**data, "PARAMS": params})
    return _command(
        msg,
        cmd.get("COMMAND"),
        cmd.get("COMMAND_PARAMS"),
        cmd.get("COMMAND_CONTEXT") or "TEXTAREA",
        cmd.get("COMMAND_ID"),
    )


def _command(msg: IncomingMessage, name: Any, params: Any, context: Any, command_id: Any) -> CommandInvoked:
    command = str(name or "").strip().lstrip("/").lower()
    args = str(params or "").strip()
    # The text is the command line whatever the portal put in the message (a button's message is the bot's).
    line = f"/{command} {args}".strip()
    return CommandInvoked(
        msg=replace(msg, text=line),
        command=command,
        params=args,
        context=str(context).lower(),
        command_id=_int(command_id),
    )


def _message_v1(member_id: str, bot_id: int, data: Mapping[str, Any]) -> IncomingMessage:
    params = data.get("PARAMS") or {}
    user = data.get("USER") or {}
    refs, session_id = _refs(
        str(params.get("CHAT_ENTITY_DATA_2", "")), str(params.get("CHAT_ENTITY_DATA_1", ""))
    )
    return IncomingMessage(
        member_id=member_id,
        bot_id=bot_id,
        bot_api="v1",
        message_id=_int(params["MESSAGE_ID"]),
        dialog_id=str(params["DIALOG_ID"]),
        chat_id=_int(params.get("CHAT_ID") or params.get("TO_CHAT_ID")) or None,
        chat_type=str(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE", "")),
        author_id=_int(params.get("AUTHOR_ID") or params.get("FROM_USER_ID")),
        text=str(params.get("MESSAGE", "")),
        is_system=_yes(params.get("SYSTEM")),
        author_is_bot=_yes(user.get("IS_BOT")),
        author_is_connector=_yes(user.get("IS_CONNECTOR")),
        author_name=str(user.get("NAME", "")),
        author_first_name=str(user.get("FIRST_NAME", "")),
        language=str(params.get("LANGUAGE", "")),
        entity_type=str(params.get("CHAT_ENTITY_TYPE", "")),
        entity_id=str(params.get("CHAT_ENTITY_ID", "")),
        crm_refs=refs,
        session_id=session_id,
        files=parse_files(params.get("FILES")),
    )


_V2_CHAT_TYPES = {"lines": "L", "openline": "L", "private": "P", "chat": "C", "open": "O", "user": "P"}


def _from_v2(member_id: str, event: str, bot_id: int, data: Mapping[str, Any]) -> Update:
    bot = data.get("bot") or {}
    bot_id = _int(bot.get("id"), bot_id)
    chat = data.get("chat") or {}
    user = data.get("user") or {}
    chat_type_raw = str(chat.get("type", ""))
    entity_type = str(chat.get("entityType", ""))
    chat_type = (
        "L" if entity_type == "LINES" else _V2_CHAT_TYPES.get(chat_type_raw.lower(), chat_type_raw.upper())
    )
    dialog_id = str(chat.get("dialogId") or (f"chat{chat['id']}" if chat.get("id") else ""))
    if event == "ONIMBOTV2JOINCHAT":
        return BotJoined(
            member_id,
            bot_id=bot_id,
            bot_api="v2",
            dialog_id=dialog_id,
            chat_type=chat_type,
            user_id=_int(user.get("id")),
            language=str(data.get("language", "")),
        )
    if event == "ONIMBOTV2DELETE":
        return BotDeleted(member_id, bot_id)
    if event == "ONIMBOTV2COMMANDADD":
        # data: bot, command{id, command "/help", params, context textarea|keyboard|menu}, message, chat,
        # user, language (api-reference/chat-bots/chat-bots-v2/imbot.v2/events/events.md).
        command = data.get("command") or {}
        msg = _message_v2(member_id, bot_id, dialog_id, chat_type, entity_type, data)
        # For a button, ``message`` is the bot's message that carried the keyboard: the invoker is ``user``.
        return _command(
            replace(msg, author_id=_int(user.get("id"), msg.author_id)),
            command.get("command"),
            command.get("params"),
            command.get("context") or "textarea",
            command.get("id"),
        )
    if event != "ONIMBOTV2MESSAGEADD":
        return UnknownEvent(member_id, event)
    return _message_v2(member_id, bot_id, dialog_id, chat_type, entity_type, data)


def _message_v2(
    member_id: str, bot_id: int, dialog_id: str, chat_type: str, entity_type: str, data: Mapping[str, Any]
) -> IncomingMessage:
    chat = data.get("chat") or {}
    user = data.get("user") or {}
    message = data["message"]
    refs, session_id = _refs(str(chat.get("entityData2") or ""), str(chat.get("entityData1") or ""))
    return IncomingMessage(
        member_id=member_id,
        bot_id=bot_id,
        bot_api="v2",
        message_id=_int(message["id"]),
        dialog_id=dialog_id,
        chat_id=_int(chat.get("id") or message.get("chatId")) or None,
        chat_type=chat_type,
        author_id=_int(message.get("authorId") or user.get("id")),
        text=str(message.get("text", "")),
        is_system=_yes(message.get("isSystem")),
        author_is_bot=_yes(user.get("bot")),
        author_is_connector=_yes(user.get("connector")),
        author_name=str(user.get("name", "")),
        author_first_name=str(user.get("firstName", "")),
        language=str(data.get("language", "")),
        entity_type=entity_type,
        entity_id=str(chat.get("entityId", "")),
        crm_refs=refs,
        session_id=session_id,
        files=parse_files(data.get("files") or message.get("files")),
    )
