"""The ports ``CrmGateway``, ``ChatGateway``, ``PortalUsers`` and ``InstallVerifier`` over
:class:`Bitrix24Client` (reference/bitrix24.md §4-§6).

Translates Bitrix24 payloads into the ports' dataclasses; no Bitrix24 shape leaves this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from b24claude.errors import Bitrix24Error, ConfigurationError
from b24claude.kit.files import file_ids, parse_files
from b24claude.kit.openlines import bindings_from_entity_data
from b24claude.ports.bitrix import (
    AppInfo,
    BotApi,
    BotCommand,
    BotIdentity,
    Button,
    ChatMessage,
    ClientCard,
    CrmRefs,
    DealInfo,
    Department,
    Employee,
    EventHandler,
    FetchedEvent,
    FetchedEvents,
    FrameUser,
    OfflineBatch,
    OfflineEvent,
    OpenLine,
    TokenGrant,
    Widget,
)

from .batch import BatchResult, Command, encode_command, parse_batch_result
from .client import Bitrix24Client

log = logging.getLogger("b24claude.bitrix24")

MAX_MESSAGE_CHARS = 20_000
DEAL_SELECT = ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID", "CLOSED"]


class Bitrix24Gateway:
    """Implements both ports; every method is one REST request (``send_message``: one per part)."""

    def __init__(
        self,
        client: Bitrix24Client,
        *,
        bot_color: str = "AZURE",
        bot_work_position: str = "AI assistant",
    ) -> None:
        self._client = client
        self._bot_color = bot_color
        self._bot_work_position = bot_work_position

    # ----- CrmGateway ---------------------------------------------------------------------------
    async def load_client(self, member_id: str, refs: CrmRefs) -> ClientCard:
        cmds = load_client_commands(refs)
        if not cmds:
            return ClientCard(refs=refs)
        batch = await self._client.batch(member_id, cmds)
        for key, error in batch.errors.items():
            log.info(
                "bitrix24.load_client.partial",
                extra={"member_id": member_id, "part": key, "code": error.code},
            )
        return client_card(refs, batch)

    async def find_by_comm(
        self, member_id: str, *, phone: str | None = None, email: str | None = None
    ) -> CrmRefs:
        cmds: dict[str, Command] = {}
        if phone:
            cmds["phone"] = ("crm.duplicate.findbycomm", {"type": "PHONE", "values": [phone]})
        if email:
            cmds["email"] = ("crm.duplicate.findbycomm", {"type": "EMAIL", "values": [email]})
        if not cmds:
            return CrmRefs()
        if len(cmds) == 1:
            ((method, params),) = cmds.values()
            found = [(await self._client.call(member_id, method, params)).result]
        else:
            batch = await self._client.batch(member_id, cmds)
            found = [batch.result[k] for k in cmds if batch.ok(k)]
        for result in found:
            refs = refs_from_duplicates(result)
            if not refs.is_empty():
                return refs
        return CrmRefs()

    async def add_contact_details(
        self, member_id: str, refs: CrmRefs, *, phones: Sequence[str] = (), emails: Sequence[str] = ()
    ) -> str:
        """Append phones/e-mails to the bound contact (else lead): multifield entries without ``ID``
        are added, existing ones stay."""
        kind, entity_id = ("contact", refs.contact_id) if refs.contact_id else ("lead", refs.lead_id)
        if not entity_id or not (phones or emails):
            return ""
        fields: dict[str, Any] = {}
        if phones:
            fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in phones]
        if emails:
            fields["EMAIL"] = [{"VALUE": e, "VALUE_TYPE": "WORK"} for e in emails]
        await self._client.call(member_id, f"crm.{kind}.update", {"id": entity_id, "fields": fields})
        return f"{kind}:{entity_id}"

    async def add_timeline_comment(self, member_id: str, refs: CrmRefs, *, text: str) -> str:
        kind, entity_id = _timeline_target(refs)
        if not entity_id or not text.strip():
            return ""
        # Lower-case `fields` only since crm 23.100.0 (method spec crm.timeline.comment.add).
        fields = {"ENTITY_ID": entity_id, "ENTITY_TYPE": kind, "COMMENT": text}
        await self._client.call(member_id, "crm.timeline.comment.add", {"fields": fields})
        return f"{kind}:{entity_id}"

    async def set_entity_field(self, member_id: str, refs: CrmRefs, *, field: str, value: str) -> str:
        kind, entity_id = _timeline_target(refs)
        if not entity_id or not field:
            return ""
        await self._client.call(member_id, f"crm.{kind}.update", {"id": entity_id, "fields": {field: value}})
        return f"{kind}:{entity_id}"

    async def openlines_refs(self, member_id: str, chat_id: int) -> CrmRefs:
        result = (await self._client.call(member_id, "imopenlines.dialog.get", {"CHAT_ID": chat_id})).result
        if not isinstance(result, Mapping):
            return CrmRefs()
        data_1 = result.get("entity_data_1")
        data_2 = result.get("entity_data_2")
        return bindings_from_entity_data(data_1 if isinstance(data_1, str) else None, _str_or_none(data_2))

    # ----- ChatGateway --------------------------------------------------------------------------
    async def register_bot(
        self, member_id: str, *, api: BotApi, code: str, name: str, handler_url: str | None
    ) -> BotIdentity:
        if api == "v1":
            return await self._register_v1(member_id, code=code, name=name, handler_url=handler_url)
        return await self._register_v2(member_id, code=code, name=name)

    async def _register_v1(
        self, member_id: str, *, code: str, name: str, handler_url: str | None
    ) -> BotIdentity:
        existing = (await self._client.call(member_id, "imbot.bot.list")).result
        for bot in _records(existing):
            if str(bot.get("CODE") or "") == code and _int(bot.get("ID")):
                return BotIdentity(bot_id=_int(bot.get("ID")), code=code, api="v1")
        if not handler_url:
            raise ConfigurationError("a v1 bot needs a public handler URL (EVENT_HANDLER)")
        params = {
            "CODE": code,
            "TYPE": "O",
            "OPENLINE": "Y",
            "EVENT_HANDLER": handler_url,
            "PROPERTIES": {"NAME": name, "COLOR": self._bot_color, "WORK_POSITION": self._bot_work_position},
        }
        bot_id = _int((await self._client.call(member_id, "imbot.register", params)).result)
        if not bot_id:
            raise Bitrix24Error("imbot.register answered without a bot id", code="ERROR_UNEXPECTED_ANSWER")
        log.info("bitrix24.bot.registered", extra={"member_id": member_id, "api": "v1", "bot_id": bot_id})
        return BotIdentity(bot_id=bot_id, code=code, api="v1")

    async def _register_v2(self, member_id: str, *, code: str, name: str) -> BotIdentity:
        # The reference documents no imbot.v2 listing (imbot.bot.list shows v1 bots only), so reuse
        # relies on Bot.register answering an existing code of the same app with that bot, as the
        # emulator does [U]. Always fetch mode: offset-acknowledged pull loses nothing and needs no
        # public URL (DESIGN §5.2); ``handler_url`` only matters for v1.
        fields: dict[str, Any] = {
            "code": code,
            "type": "openline",
            "eventMode": "fetch",
            "isSupportOpenline": True,
            "properties": {"name": name, "workPosition": self._bot_work_position},
        }
        result = (await self._client.call(member_id, "imbot.v2.Bot.register", {"fields": fields})).result
        bot = result.get("bot") if isinstance(result, Mapping) else None
        bot_id = _int(bot.get("id") if isinstance(bot, Mapping) else result)
        if not bot_id:
            raise Bitrix24Error(
                "imbot.v2.Bot.register answered without a bot id", code="ERROR_UNEXPECTED_ANSWER"
            )
        log.info("bitrix24.bot.registered", extra={"member_id": member_id, "api": "v2", "bot_id": bot_id})
        return BotIdentity(bot_id=bot_id, code=code, api="v2")

    async def send_message(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, text: str, keyboard: Sequence[Button] = ()
    ) -> int:
        message_id = 0
        parts = split_text(text, MAX_MESSAGE_CHARS)
        for i, part in enumerate(parts):
            # The keyboard goes under the last part; BOT_ID inside it routes its commands to our bot
            # (chat-bots-v2/imbot.v2/messages/message-keyboards.md).
            board = keyboard_payload(bot.bot_id, keyboard) if keyboard and i == len(parts) - 1 else None
            if bot.api == "v1":
                params: dict[str, Any] = {"BOT_ID": bot.bot_id, "DIALOG_ID": dialog_id, "MESSAGE": part}
                if board:
                    params["KEYBOARD"] = board
                result = (await self._client.call(member_id, "imbot.message.add", params)).result
                message_id = _int(result)
            else:
                fields: dict[str, Any] = {"message": part}
                if board:
                    fields["keyboard"] = board
                params = {"botId": bot.bot_id, "dialogId": dialog_id, "fields": fields}
                result = (await self._client.call(member_id, "imbot.v2.Chat.Message.send", params)).result
                message_id = _message_id_v2(result)
        return message_id

    async def register_command(
        self, member_id: str, bot: BotIdentity, command: BotCommand, *, handler_url: str | None
    ) -> int:
        if bot.api == "v1":
            if not handler_url:
                raise ConfigurationError("a v1 bot command needs a public handler URL (EVENT_COMMAND_ADD)")
            params: dict[str, Any] = {
                "BOT_ID": bot.bot_id,
                "COMMAND": command.name,
                "EVENT_COMMAND_ADD": handler_url,
                "COMMON": "Y" if command.common else "N",
                "HIDDEN": "Y" if command.hidden else "N",
                "LANG": [{"LANGUAGE_ID": lang, "TITLE": title} for lang, title in command.titles.items()],
            }
            return _int((await self._client.call(member_id, "imbot.command.register", params)).result)
        fields: dict[str, Any] = {
            "command": command.name,
            "title": dict(command.titles),
            "common": command.common,
            "hidden": command.hidden,
        }
        result = (
            await self._client.call(
                member_id, "imbot.v2.Command.register", {"botId": bot.bot_id, "fields": fields}
            )
        ).result
        registered = result.get("command") if isinstance(result, Mapping) else None
        return _int(registered.get("id") if isinstance(registered, Mapping) else result)

    async def recent_messages(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, limit: int = 20
    ) -> Sequence[ChatMessage]:
        params = {"DIALOG_ID": dialog_id, "LIMIT": max(1, min(limit, 50))}
        return await self._dialog_messages(member_id, params)

    async def messages_after(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, first_id: int, limit: int = 50
    ) -> Sequence[ChatMessage]:
        params = {"DIALOG_ID": dialog_id, "FIRST_ID": max(0, first_id), "LIMIT": max(1, min(limit, 50))}
        return await self._dialog_messages(member_id, params)

    async def _dialog_messages(self, member_id: str, params: Mapping[str, Any]) -> list[ChatMessage]:
        result = (await self._client.call(member_id, "im.dialog.messages.get", dict(params))).result
        raw = result.get("messages") if isinstance(result, Mapping) else result
        users = {_int(u.get("id")): u for u in _records(result.get("users") if isinstance(result, Mapping) else None)}
        # The files of these messages come beside them; each message names its own in params.FILE_ID.
        files = {f.id: f for f in parse_files(result.get("files") if isinstance(result, Mapping) else None)}
        messages = []
        for m in _records(raw):
            author = _int(m.get("author_id"))
            user = users.get(author, {})
            messages.append(
                ChatMessage(
                    id=_int(m.get("id")),
                    author_id=author,
                    text=str(m.get("text") or ""),
                    author_name=_text(user.get("name")),
                    author_is_bot=user.get("bot") is True,
                    author_is_connector=user.get("connector") is True,
                    files=tuple(files[i] for i in file_ids(m.get("params")) if i in files),
                )
            )
        return sorted(messages, key=lambda m: m.id)

    async def fetch_events(
        self, member_id: str, bot: BotIdentity, *, offset: int | None, limit: int = 100
    ) -> FetchedEvents:
        params: dict[str, Any] = {"botId": bot.bot_id, "limit": max(1, min(limit, 1000))}
        if offset is not None:
            params["offset"] = offset
        result = (await self._client.call(member_id, "imbot.v2.Event.get", params)).result
        body = result if isinstance(result, Mapping) else {}
        events = [
            FetchedEvent(
                event_id=_int(e.get("eventId")),
                type=str(e.get("type") or ""),
                data=data if isinstance(data := e.get("data"), Mapping) else {},
            )
            for e in _records(body.get("events"))
        ]
        next_offset = body.get("nextOffset")
        return FetchedEvents(
            events=events,
            next_offset=_int(next_offset) if next_offset is not None else None,
            has_more=bool(body.get("hasMore")),
        )

    # ----- OfflineEventQueue --------------------------------------------------------------------
    async def bind_offline(self, member_id: str, *, events: Sequence[str], notify_url: str) -> int:
        bound = {
            (str(e.get("event")).upper(), str(e.get("offline")) in ("1", "True", "true"))
            for e in _records((await self._client.call(member_id, "event.get")).result)
        }
        added = 0
        for name in events:
            if (name.upper(), True) not in bound:
                await self._client.call(member_id, "event.bind", {"event": name, "event_type": "offline"})
                added += 1
        if ("ONOFFLINEEVENT", False) not in bound:
            await self._client.call(
                member_id,
                "event.bind",
                {"event": "ONOFFLINEEVENT", "handler": notify_url, "options": {"minTimeout": 1}},
            )
            added += 1
        return added

    async def offline_get(self, member_id: str, *, process_id: str = "", limit: int = 50) -> OfflineBatch:
        params: dict[str, Any] = {"clear": 0, "limit": max(1, min(limit, 50))}
        if process_id:
            params["process_id"] = process_id
        result = (await self._client.call(member_id, "event.offline.get", params)).result
        body = result if isinstance(result, Mapping) else {}
        events = [
            OfflineEvent(
                id=_int(e.get("ID")),
                name=str(e.get("EVENT_NAME") or "").upper(),
                data=data if isinstance(data := e.get("EVENT_DATA"), Mapping) else {},
                message_id=str(e.get("MESSAGE_ID") or ""),
                timestamp=str(e.get("TIMESTAMP_X") or ""),
            )
            for e in _records(body.get("events"))
        ]
        pid = body.get("process_id")
        return OfflineBatch(process_id=str(pid) if pid else None, events=[e for e in events if e.id > 0])

    async def offline_reserved(self, member_id: str, *, max_pages: int = 20) -> Sequence[str]:
        found: list[str] = []
        start = 0
        for _ in range(max_pages):
            page = await self._client.call(member_id, "event.offline.list", {"start": start})
            for r in _records(page.result):
                pid = str(r.get("PROCESS_ID") or "")
                if pid and pid not in found:
                    found.append(pid)
            if page.next is None:
                break
            start = page.next
        return found

    async def offline_clear(self, member_id: str, process_id: str) -> None:
        await self._client.call(member_id, "event.offline.clear", {"process_id": process_id})

    async def offline_error(self, member_id: str, process_id: str, message_ids: Sequence[str]) -> None:
        await self._client.call(
            member_id, "event.offline.error", {"process_id": process_id, "message_id": list(message_ids)}
        )

    # ----- PortalUsers --------------------------------------------------------------------------
    async def verify_frame_user(self, member_id: str, auth_id: str) -> FrameUser:
        # One request: both methods in a batch under the user's token (user.current needs scope
        # user/user_basic/user_brief; user.admin needs none — reference: api-reference/user/
        # user-current.md, api-reference/common/users/user-admin.md).
        cmds = {"user": encode_command("user.current"), "admin": encode_command("user.admin")}
        result = (
            await self._client.call_as_user(member_id, auth_id, "batch", {"halt": 1, "cmd": cmds})
        ).result
        batch = parse_batch_result(result)
        for error in batch.errors.values():
            raise error
        user = batch.result.get("user")
        user_id = _int(user.get("ID")) if isinstance(user, Mapping) else 0
        if user_id <= 0 or not isinstance(user, Mapping):
            raise Bitrix24Error("user.current answered without a user id", code="ERROR_UNEXPECTED_ANSWER")
        name = " ".join(p for p in (_text(user.get("NAME")), _text(user.get("LAST_NAME"))) if p).strip()
        return FrameUser(user_id=user_id, is_admin=_yes(batch.result.get("admin")), name=name[:200])

    # ----- AppSetup (the installer page) --------------------------------------------------------
    async def is_admin(self, client_endpoint: str, access_token: str, *, member_id: str) -> bool:
        result = await self._client.call_with(member_id, client_endpoint, access_token, "user.admin")
        return _yes(result.result)

    async def bind(
        self,
        client_endpoint: str,
        access_token: str,
        *,
        member_id: str,
        widgets: Sequence[Widget],
        events: Sequence[EventHandler],
    ) -> None:
        async def call(method: str, params: Mapping[str, Any] | None = None) -> Any:
            return (
                await self._client.call_with(member_id, client_endpoint, access_token, method, params)
            ).result

        bound = {
            (str(p.get("placement")), str(p.get("handler"))) for p in _records(await call("placement.get"))
        }
        for w in widgets:
            if (w.placement, w.handler) in bound:
                continue
            params: dict[str, Any] = {
                "PLACEMENT": w.placement,
                "HANDLER": w.handler,
                "TITLE": w.titles.get("ru") or next(iter(w.titles.values()), ""),
                "DESCRIPTION": w.descriptions.get("ru", ""),
                "LANG_ALL": {
                    lang: {"TITLE": title, "DESCRIPTION": w.descriptions.get(lang, "")}
                    for lang, title in w.titles.items()
                },
            }
            await call("placement.bind", params)
        hooks = {
            (str(e.get("event")).upper(), str(e.get("handler"))) for e in _records(await call("event.get"))
        }
        for e in events:
            if (e.event.upper(), e.handler) not in hooks:
                await call("event.bind", {"event": e.event, "handler": e.handler})

    # ----- OpenLinesDirectory ---------------------------------------------------------------------
    async def open_lines(self, member_id: str) -> Sequence[OpenLine]:
        result = (await self._client.call(member_id, "imopenlines.config.list.get")).result
        lines = [
            OpenLine(id=_int(r.get("ID")), name=_text(r.get("LINE_NAME")), active=_yes(r.get("ACTIVE")))
            for r in _records(result)
        ]
        return [line for line in lines if line.id > 0]

    async def hand_to_operator(self, member_id: str, *, chat_id: int) -> None:
        await self._client.call(member_id, "imopenlines.bot.session.operator", {"CHAT_ID": chat_id})

    async def notify_user(self, member_id: str, *, user_id: int, text: str, tag: str = "") -> None:
        params: dict[str, Any] = {"USER_ID": user_id, "MESSAGE": text}
        if tag:
            params["TAG"] = tag
        await self._client.call(member_id, "im.notify.system.add", params)

    # ----- OperatorGateway ------------------------------------------------------------------------
    async def transfer(
        self, member_id: str, *, chat_id: int, user_id: int | None = None, queue_id: int | None = None
    ) -> None:
        # LEAVE=N (the default): the bot stays in the chat until the operator accepts; our routing keeps it
        # silent meanwhile (reference/bitrix24.md §5).
        params: dict[str, Any] = {"CHAT_ID": chat_id}
        if user_id:
            params["USER_ID"] = user_id
        elif queue_id:
            params["QUEUE_ID"] = queue_id
        await self._client.call(member_id, "imopenlines.bot.session.transfer", params)

    async def employees(self, member_id: str) -> Sequence[Employee]:
        out: list[Employee] = []
        params = {"FILTER": {"ACTIVE": True, "USER_TYPE": "employee"}}
        async for u in self._client.iter_list(member_id, "user.get", params, fast=False):
            if not isinstance(u, Mapping):
                continue
            name = " ".join(p for p in (_text(u.get("NAME")), _text(u.get("LAST_NAME"))) if p)
            deps = tuple(_int(d) for d in _values(u.get("UF_DEPARTMENT")) if _int(d))
            out.append(Employee(_int(u.get("ID")), name, _text(u.get("WORK_POSITION")), deps))
        return out

    async def departments(self, member_id: str) -> Sequence[Department]:
        out: list[Department] = []
        async for d in self._client.iter_list(member_id, "department.get", {}, fast=False):
            if isinstance(d, Mapping):
                out.append(
                    Department(
                        _int(d.get("ID")), _text(d.get("NAME")), _int(d.get("PARENT")), _int(d.get("UF_HEAD"))
                    )
                )
        return out

    async def line_queue(self, member_id: str, line_id: int) -> Sequence[int]:
        result = (await self._client.call(member_id, "imopenlines.config.get", {"CONFIG_ID": line_id})).result
        queue = result.get("QUEUE") if isinstance(result, Mapping) else None
        return [_int(q) for q in _values(queue) if _int(q)]

    async def add_task(
        self,
        member_id: str,
        *,
        title: str,
        description: str,
        responsible_id: int,
        crm: Sequence[str] = (),
        high_priority: bool = True,
    ) -> int:
        fields: dict[str, Any] = {
            "TITLE": title,
            "DESCRIPTION": description,
            "RESPONSIBLE_ID": responsible_id,
            "PRIORITY": "2" if high_priority else "1",
        }
        if crm:
            fields["UF_CRM_TASK"] = list(crm)
        result = (await self._client.call(member_id, "tasks.task.add", {"fields": fields})).result
        task = result.get("task") if isinstance(result, Mapping) else None
        return _int(task.get("id")) if isinstance(task, Mapping) else 0

    # ----- InstallVerifier ------------------------------------------------------------------------
    async def exchange_refresh_token(self, refresh_token: str, *, member_id: str) -> TokenGrant:
        return await self._client.grant(refresh_token, member_id=member_id)

    async def app_info(self, client_endpoint: str, access_token: str, *, member_id: str) -> AppInfo:
        result = (await self._client.call_with(member_id, client_endpoint, access_token, "app.info")).result
        if not isinstance(result, Mapping):
            raise Bitrix24Error("app.info answered without a result", code="ERROR_UNEXPECTED_ANSWER")
        return AppInfo(
            code=str(result.get("CODE") or ""),
            installed=_yes(result.get("INSTALLED")),
            status=str(result.get("STATUS") or ""),
        )


# ----- load_client: one batch ---------------------------------------------------------------------
def load_client_commands(refs: CrmRefs) -> dict[str, Command]:
    """The batch for :meth:`Bitrix24Gateway.load_client`; sub-calls run in order, so refs point back.

    The company comes from the contact's (else the deal's) ``COMPANY_ID`` when no company is bound;
    the open deals are listed only by an id we know for sure, never by a ``$result`` reference — an
    empty reference would turn the filter into "every deal".
    """
    cmds: dict[str, Command] = {}
    if refs.deal_id:
        cmds["deal"] = ("crm.deal.get", {"id": refs.deal_id})
    if refs.contact_id:
        cmds["contact"] = ("crm.contact.get", {"id": refs.contact_id})
    elif refs.deal_id:
        cmds["contact"] = ("crm.contact.get", {"id": "$result[deal][CONTACT_ID]"})
    if refs.company_id:
        cmds["company"] = ("crm.company.get", {"id": refs.company_id})
    elif "contact" in cmds:
        cmds["company"] = ("crm.company.get", {"id": "$result[contact][COMPANY_ID]"})
    if refs.lead_id:
        cmds["lead"] = ("crm.lead.get", {"id": refs.lead_id})
    owner = ("CONTACT_ID", refs.contact_id) if refs.contact_id else ("COMPANY_ID", refs.company_id)
    if owner[1]:
        cmds["deals"] = (
            "crm.deal.list",
            {"filter": {owner[0]: owner[1], "CLOSED": "N"}, "select": DEAL_SELECT, "order": {"ID": "DESC"}},
        )
    return cmds


def client_card(refs: CrmRefs, batch: BatchResult) -> ClientCard:
    """Map the ``load_client`` batch; failed sub-calls (a deleted contact…) leave their parts empty."""
    contact = _record(batch, "contact")
    company = _record(batch, "company")
    lead = _record(batch, "lead")
    deal = _record(batch, "deal")
    person = contact or lead
    kind: Literal["contact", "lead", "company", "unknown"] = (
        "contact" if contact else "lead" if lead else "company" if company else "unknown"
    )
    deals = [_deal(d) for d in _records(batch.result.get("deals")) if batch.ok("deals")]
    if deal and not _yes(deal.get("CLOSED")) and all(d.id != _int(deal.get("ID")) for d in deals):
        deals.insert(0, _deal(deal))
    name = _full_name(person) if person else ""
    company_title = (
        _text(company.get("TITLE")) if company else _text(lead.get("COMPANY_TITLE") if lead else "")
    )
    extra: dict[str, str] = {}
    if lead and _text(lead.get("TITLE")):
        extra["lead_title"] = _text(lead.get("TITLE"))
    if deal:
        extra["bound_deal_stage"] = _text(deal.get("STAGE_ID"))
    card_refs = CrmRefs(
        lead_id=refs.lead_id,
        contact_id=refs.contact_id or (_int(contact.get("ID")) or None if contact else None),
        company_id=refs.company_id or (_int(company.get("ID")) or None if company else None),
        deal_id=refs.deal_id,
    )
    assigned = (person or company or {}).get("ASSIGNED_BY_ID")
    return ClientCard(
        refs=card_refs,
        kind=kind,
        name=name or (company_title if kind == "company" else ""),
        first_name=_text(person.get("NAME")) if person else "",
        company=company_title,
        phones=_multifield(person or company, "PHONE"),
        emails=_multifield(person or company, "EMAIL"),
        position=_text(person.get("POST")) if person else "",
        assigned_user_id=_int(assigned) or None,
        open_deals=tuple(deals),
        extra=extra,
    )


def refs_from_duplicates(result: Any) -> CrmRefs:
    """``crm.duplicate.findbycomm`` → one entity: a contact, else a company, else a lead."""
    if not isinstance(result, Mapping):
        return CrmRefs()
    for kind, field in (("CONTACT", "contact_id"), ("COMPANY", "company_id"), ("LEAD", "lead_id")):
        ids = [i for i in (_int(v) for v in _values(result.get(kind))) if i > 0]
        if ids:
            return CrmRefs(**{field: ids[0]})
    return CrmRefs()


# ----- helpers ------------------------------------------------------------------------------------
def keyboard_payload(bot_id: int, buttons: Sequence[Button]) -> dict[str, Any]:
    """``{BOT_ID, BUTTONS}``; button field names are upper case in both API generations."""
    out: list[dict[str, Any]] = []
    for b in buttons:
        item: dict[str, Any] = {"TEXT": b.text, "DISPLAY": "LINE"}
        if b.command:
            item.update({"COMMAND": b.command, "COMMAND_PARAMS": b.params, "BLOCK": "Y" if b.block else "N"})
        elif b.put:
            item.update({"ACTION": "PUT", "ACTION_VALUE": b.put})
        out.append(item)
    return {"BOT_ID": bot_id, "BUTTONS": out}


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Parts of at most ``limit`` chars, cut at a paragraph, line or word break where one is near."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _record(batch: BatchResult, key: str) -> dict[str, Any]:
    value = batch.result.get(key) if batch.ok(key) else None
    return dict(value) if isinstance(value, Mapping) else {}


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in _values(value) if isinstance(v, Mapping)]


def _values(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return []


def _deal(raw: Mapping[str, Any]) -> DealInfo:
    amount = raw.get("OPPORTUNITY")
    try:
        amount_value = float(amount) if amount is not None and amount != "" else None
    except (TypeError, ValueError):
        amount_value = None
    return DealInfo(
        id=_int(raw.get("ID")),
        title=_text(raw.get("TITLE")),
        stage=_text(raw.get("STAGE_ID")),
        amount=amount_value,
        currency=_text(raw.get("CURRENCY_ID")) or None,
        closed=_yes(raw.get("CLOSED")),
    )


def _full_name(person: Mapping[str, Any]) -> str:
    return " ".join(p for p in (_text(person.get(k)) for k in ("NAME", "SECOND_NAME", "LAST_NAME")) if p)


def _multifield(record: Mapping[str, Any] | None, kind: str) -> tuple[str, ...]:
    if not record:
        return ()
    return tuple(v for v in (_text(item.get("VALUE")) for item in _records(record.get(kind))) if v)


def _message_id_v2(result: Any) -> int:
    if isinstance(result, Mapping):
        for key in ("id", "messageId"):
            if key in result:
                return _int(result[key])
        message = result.get("message")
        if isinstance(message, Mapping):
            return _int(message.get("id"))
    return _int(result)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str:
    return str(value).strip() if value is not None and not isinstance(value, Mapping | list) else ""


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _yes(value: Any) -> bool:
    return value is True or str(value).upper() in ("Y", "1", "TRUE")


def _timeline_target(refs: CrmRefs) -> tuple[str, int | None]:
    """The entity a dialogue's notes belong to: the deal the talk is about, else the lead, the contact,
    the company."""
    for kind, entity_id in (
        ("deal", refs.deal_id),
        ("lead", refs.lead_id),
        ("contact", refs.contact_id),
        ("company", refs.company_id),
    ):
        if entity_id:
            return kind, entity_id
    return "", None
