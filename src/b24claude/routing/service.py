"""Handoff: the one path by which a dialogue goes from the bot to a human.

Whatever decided it (the customer asked, a rule, the classifier, Claude being down), a handoff is an
effect recorded against the inbox row that caused it (DESIGN.md §7), with a reason from the fixed
taxonomy (routing.schemas.HandoffReason):

1. ``handoff`` intent (with the reason) — recorded first, so a crash after the reply still owes it;
2. the reply the customer gets meanwhile (the normal ``reply`` effect), when there is one;
3. the dialogue is passed to its Open Line's operators (``imopenlines.bot.session.operator``);
4. for a failover, the portal's alert recipients get a system notification with the reason (``alert``).

A Bitrix24 failure in step 3 or 4 is logged, not raised: the customer already has an answer, and
a retry of the whole row would not make Bitrix24 healthier.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from b24claude.dispatch import MessageContext, RowEffects
from b24claude.errors import Bitrix24Error
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import BotIdentity, ChatFile, ChatGateway, OperatorGateway
from b24claude.ports.cache import Cache
from b24claude.ports.store import DialogueRepository
from b24claude.routing.competence import Competence
from b24claude.routing.schemas import ALERT, HandoffReason, RoutingSettings, Target

log = logging.getLogger("b24claude.routing")

FAILOVER_REASONS = frozenset({"claude_unavailable", "spend_limit"})


SILENCE_TTL_S = 7 * 86400.0
BRIEF = {
    "ru": "b24claude: вам передан диалог {dialog} (причина: {reason}).\nКлиент: {client}\nХочет: {want}\n"
    "Бот уже ответил: {said}\nНастроение: {sentiment}\nCRM: {crm}\nФайлы клиента: {files}",
    "en": "b24claude: dialogue {dialog} is yours (reason: {reason}).\nClient: {client}\nWants: {want}\n"
    "The bot said: {said}\nSentiment: {sentiment}\nCRM: {crm}\nClient's files: {files}",
}
ESCALATION_TITLE = {
    "ru": "Срочно: обращение клиента {client} ({reason})",
    "en": "Urgent: {client}'s request ({reason})",
}


class HandoffService:
    def __init__(
        self,
        *,
        chat: ChatGateway,
        operators: OperatorGateway | None = None,
        cache: Cache | None = None,
        dialogues: DialogueRepository | None = None,
    ) -> None:
        self._chat = chat
        self._operators = operators
        self._cache = cache
        self._dialogues = dialogues
        self._competence = Competence(operators=operators, cache=cache) if operators and cache else None

    async def begin(
        self,
        effects: RowEffects,
        reason: HandoffReason,
        *,
        detail: str = "",
        topic: str = "",
        urgent: bool = False,
    ) -> None:
        """Record that this message's dialogue goes to a human (before any reply is sent)."""
        await effects.intent(
            "handoff", {"reason": reason, "detail": detail or reason, "topic": topic, "urgent": urgent}
        )

    # --- silence after a handoff -------------------------------------------------------------------

    def _silence_key(self, member_id: str, dialog_key: str) -> str:
        return f"handed-off:{member_id}:{dialog_key}"

    async def is_silent(self, msg: IncomingMessage) -> bool:
        """Whether a human holds this session (the bot stays silent until the session ends or the bot is
        brought back: ONIMBOTJOINCHAT)."""
        if self._cache is None:
            return False
        held = await self._cache.get(self._silence_key(msg.member_id, msg.dialog_key))
        return held is not None and held == (msg.session_id or 0)

    async def give_back(self, member_id: str, dialog_key: str) -> None:
        if self._cache is not None:
            await self._cache.delete(self._silence_key(member_id, dialog_key))

    # --- a handoff decided by routing (not a failover) ----------------------------------------------

    async def carry_out(
        self, turn: MessageContext, effects: RowEffects, *, settings: RoutingSettings
    ) -> None:
        """Transfer to the competent operator or queue, brief them, escalate when urgent; then silence."""
        effect = await effects.get("handoff")
        if effect is None or effect.status == "done":
            return
        payload = effect.payload
        reason, topic, urgent = (
            str(payload.get("reason")),
            str(payload.get("topic") or ""),
            bool(payload.get("urgent")),
        )
        msg = turn.msg
        target, supervisor = await self._choose(msg, topic, settings)
        brief = await self._brief(turn, reason)  # ready before the human takes over
        transferred = await self._transfer(msg, target)
        notified = []
        for user_id in await self._brief_recipients(msg, target):
            if await self._notify(msg, user_id, brief, tag=f"b24claude:brief:{msg.dialog_id}"):
                notified.append(user_id)
        if urgent:
            await self._escalate(
                turn, effects, reason=reason, brief=brief, supervisor=supervisor, settings=settings
            )
        if self._cache is not None:
            await self._cache.set(
                self._silence_key(msg.member_id, msg.dialog_key), msg.session_id or 0, ttl_s=SILENCE_TTL_S
            )
        await effects.done(
            "handoff",
            {
                "reason": reason,
                "transferred": transferred,
                "user_id": target.user_id,
                "queue_id": target.queue_id,
                "briefed": notified,
            },
        )
        log.info(
            "routing.handoff.sent",
            extra={
                "member_id": msg.member_id,
                "dialog_key": msg.dialog_key,
                "reason": reason,
                "topic": topic,
                "urgent": urgent,
                "transferred": transferred,
            },
        )

    async def _choose(
        self, msg: IncomingMessage, topic: str, settings: RoutingSettings
    ) -> tuple[Target, int | None]:
        line_id = _line_id(msg)
        if self._competence is None:
            return Target(), settings.supervisor_id
        try:
            cmap = await self._competence.map_for(msg.member_id, line_id, settings)
        except Bitrix24Error as exc:
            log.warning("routing.competence.failed", extra={"member_id": msg.member_id, "code": exc.code})
            return settings.competence.get(topic) or Target(), settings.supervisor_id
        target = cmap.target(topic) or Target()
        supervisor = settings.supervisor_id or cmap.supervisors.get(topic) or cmap.supervisors.get("support")
        return target, supervisor

    async def _transfer(self, msg: IncomingMessage, target: Target) -> bool:
        if not (msg.is_open_line and msg.chat_id):
            return False
        try:
            if (target.user_id or target.queue_id) and self._operators is not None:
                await self._operators.transfer(
                    msg.member_id, chat_id=msg.chat_id, user_id=target.user_id, queue_id=target.queue_id
                )
            else:
                await self._chat.hand_to_operator(msg.member_id, chat_id=msg.chat_id)
            return True
        except Bitrix24Error as exc:
            log.error(
                "routing.handoff.failed",
                extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "code": exc.code},
            )
            return False

    async def _brief_recipients(self, msg: IncomingMessage, target: Target) -> list[int]:
        if target.user_id:
            return [target.user_id]
        if self._operators is None:
            return []
        try:
            line = target.queue_id or _line_id(msg)
            return list(await self._operators.line_queue(msg.member_id, line))[:3] if line else []
        except Bitrix24Error:
            return []

    async def _brief(self, turn: MessageContext, reason: str) -> str:
        """Who the client is, what they want, what the bot said, sentiment, CRM links (real values: the
        brief goes to the portal's employees only)."""
        msg, mask = turn.msg, turn.mask
        unmask = (lambda t: mask.unmask(t, language=turn.language)) if mask is not None else (lambda t: t)
        said = "—"
        want = turn.text
        if self._dialogues is not None:
            turns = await self._dialogues.last_turns(msg.member_id, msg.dialog_key, limit=10)
            # What the bot answered before this message (not the handoff notice it just sent).
            bot = [t.text for t in turns if t.role == "assistant" and t.message_id != turn.message_id]
            if bot:
                said = unmask(bot[-1])[:300]
            if turn.command:  # "/operator" says who to call, not what for: the customer's last words do
                asked = [t.text for t in turns if t.role == "user" and not t.text.startswith("/")]
                if asked:
                    want = f"{unmask(asked[-1])} (/{turn.command})"
        card = turn.card
        client = msg.author_name or "—"
        if card is not None and card.name:
            client = unmask(card.name) + (f" ({unmask(card.company)})" if card.company else "")
        refs = card.refs if card is not None else msg.crm_refs
        crm = ", ".join(
            f"{kind} {i}"
            for kind, i in (
                ("contact", refs.contact_id),
                ("lead", refs.lead_id),
                ("company", refs.company_id),
                ("deal", refs.deal_id),
            )
            if i
        )
        sentiment = turn.classification.sentiment if turn.classification is not None else "—"
        files = await self._client_files(turn)
        return BRIEF.get(turn.language, BRIEF["ru"]).format(
            files=", ".join(f.label() for f in files) or "—",
            dialog=msg.dialog_id,
            reason=reason,
            client=client,
            want=want[:500],
            said=said,
            sentiment=sentiment,
            crm=crm or "—",
        )

    async def _client_files(self, turn: MessageContext) -> list[ChatFile]:
        """The files the client sent in this dialogue: this message's, and earlier ones as the chat
        shows them (``im.dialog.messages.get``), oldest first, each once."""
        msg = turn.msg
        found: dict[int, ChatFile] = {}
        bot = BotIdentity(msg.bot_id or (turn.ctx.portal.bot_id or 0), turn.ctx.portal.bot_code, msg.bot_api)
        try:
            recent = await self._chat.recent_messages(msg.member_id, bot, dialog_id=msg.dialog_id, limit=50)
        except Bitrix24Error as exc:
            log.warning("routing.brief.files_unread", extra={"member_id": msg.member_id, "code": exc.code})
            recent = []
        for m in recent:
            if m.author_id == msg.author_id:
                found.update((f.id, f) for f in m.files)
        found.update((f.id, f) for f in turn.files)
        return [found[i] for i in sorted(found)]

    async def _escalate(
        self,
        turn: MessageContext,
        effects: RowEffects,
        *,
        reason: str,
        brief: str,
        supervisor: int | None,
        settings: RoutingSettings,
    ) -> None:
        """A high-priority task for the supervisor, bound to the CRM records, and a notification."""
        if supervisor is None or self._operators is None or await effects.is_done("escalation"):
            return
        msg, card = turn.msg, turn.card
        refs = card.refs if card is not None else msg.crm_refs
        codes = [
            f"{p}_{i}"
            for p, i in (
                ("C", refs.contact_id),
                ("L", refs.lead_id),
                ("CO", refs.company_id),
                ("D", refs.deal_id),
            )
            if i
        ]
        client = msg.author_name or msg.dialog_id
        await effects.intent("escalation", {"supervisor": supervisor, "reason": reason})
        task_id = 0
        try:
            title = ESCALATION_TITLE.get(turn.language, ESCALATION_TITLE["ru"]).format(
                client=client, reason=reason
            )
            task_id = await self._operators.add_task(
                msg.member_id, title=title, description=brief, responsible_id=supervisor, crm=codes
            )
        except Bitrix24Error as exc:
            log.error("routing.escalation.failed", extra={"member_id": msg.member_id, "code": exc.code})
        await self._notify(msg, supervisor, brief, tag=f"b24claude:escalation:{msg.dialog_id}")
        await effects.done("escalation", {"task_id": task_id, "supervisor": supervisor})
        log.warning(
            "routing.escalated",
            extra={
                "member_id": msg.member_id,
                "dialog_key": msg.dialog_key,
                "reason": reason,
                "task_id": task_id,
            },
        )

    async def _notify(self, msg: IncomingMessage, user_id: int, text: str, *, tag: str) -> bool:
        try:
            await self._chat.notify_user(msg.member_id, user_id=user_id, text=text, tag=tag)
            return True
        except Bitrix24Error as exc:
            log.error("routing.notify.failed", extra={"member_id": msg.member_id, "code": exc.code})
            return False

    async def pending(self, effects: RowEffects) -> tuple[str, str] | None:
        """The (reason, detail) of a handoff this row started and did not finish (a replay resumes it)."""
        effect = await effects.get("handoff")
        if effect is None or effect.status == "done":
            return None
        reason = str(effect.payload.get("reason") or "claude_unavailable")
        return reason, str(effect.payload.get("detail") or reason)

    async def finish(
        self,
        msg: IncomingMessage,
        effects: RowEffects,
        *,
        reason: str,
        detail: str,
        language: str,
        alert_user_ids: Sequence[int],
    ) -> None:
        """Steps 3 and 4, after the reply (if any) was sent."""
        transferred = False
        if msg.is_open_line and msg.chat_id:
            try:
                await self._chat.hand_to_operator(msg.member_id, chat_id=msg.chat_id)
                transferred = True
            except Bitrix24Error as exc:
                log.error(
                    "routing.handoff.failed",
                    extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "code": exc.code},
                )
        await effects.done("handoff", {"reason": reason, "transferred": transferred})
        if reason in FAILOVER_REASONS:
            await self._alert(msg, effects, detail=detail, language=language, user_ids=alert_user_ids)
            log.warning(
                "conversation.answered_without_claude",
                extra={
                    "member_id": msg.member_id,
                    "dialog_key": msg.dialog_key,
                    "inbox_id": effects.inbox_id,
                    "reason": detail,
                    "transferred": transferred,
                },
            )

    async def _alert(
        self,
        msg: IncomingMessage,
        effects: RowEffects,
        *,
        detail: str,
        language: str,
        user_ids: Sequence[int],
    ) -> None:
        if await effects.is_done("alert"):
            return
        text = ALERT.get(language, ALERT["ru"]).format(reason=detail, dialog=msg.dialog_id)
        sent: list[int] = []
        for user_id in user_ids:
            try:
                # One tag per reason: a storm of failures leaves one current notification, not hundreds.
                await self._chat.notify_user(
                    msg.member_id, user_id=user_id, text=text, tag=f"b24claude:{detail}"
                )
                sent.append(user_id)
            except Bitrix24Error as exc:
                log.error("alert.failed", extra={"member_id": msg.member_id, "code": exc.code})
        log.error(
            "alert.claude_unavailable",
            extra={"member_id": msg.member_id, "reason": detail, "notified": len(sent)},
        )
        result: dict[str, Any] = {"notified": sent}
        await effects.done("alert", result)


def _line_id(msg: IncomingMessage) -> int:
    """The Open Line of the chat: ``CHAT_ENTITY_ID = "connector|lineId|..."`` (reference/bitrix24.md §4.3)."""
    parts = msg.entity_id.split("|")
    try:
        return int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0


def alert_user_ids(settings: Any) -> list[int]:
    """Who hears about failures: ``Portal.settings["alerts"]["user_ids"]`` (the installing admin by
    default, see PortalService.install)."""
    alerts = settings.get("alerts") if hasattr(settings, "get") else None
    ids = alerts.get("user_ids") if isinstance(alerts, dict) else None
    if not isinstance(ids, list):
        return []
    out: list[int] = []
    for value in ids:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0 and number not in out:
            out.append(number)
    return out
