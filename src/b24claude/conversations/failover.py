"""When Claude cannot answer: a prepared reply, a human operator, and an admin who knows.

Every model of the chain failed (or is cooling down after failing), the organisation hit its spend
cap, or Claude refused the request: the customer must not wait for nothing. In that order, each an
effect recorded against the inbox row so a replay neither repeats nor skips one:

1. ``handoff`` intent (with the reason) — recorded first, so a crash after the reply still owes it;
2. the prepared reply, in the customer's language (the normal ``reply`` effect);
3. the dialogue is passed to a free operator of its Open Line (``imopenlines.bot.session.operator``);
4. the portal's alert recipients get a system notification with the reason (``alert``).

A Bitrix24 failure in step 3 or 4 is logged, not raised: the customer already has an answer, and
a retry of the whole row would not make Bitrix24 healthier.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from b24claude.errors import Bitrix24Error, LLMError, LLMSpendLimitReached
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import ChatGateway
from b24claude.ports.store import EffectRepository

log = logging.getLogger("b24claude.conversations")

PREPARED = {
    "ru": {
        "line": "Извините, сейчас я не могу ответить сам. Я передал ваш вопрос специалисту — он ответит вам "
        "в ближайшее время.",
        "chat": "Извините, сейчас я не могу ответить. Пожалуйста, напишите ещё раз чуть позже.",
    },
    "en": {
        "line": "Sorry, I can't answer this myself right now. I've passed your question to a specialist who "
        "will reply shortly.",
        "chat": "Sorry, I can't answer right now. Please write again a little later.",
    },
}

ALERT = {
    "ru": "b24claude: Claude не ответил ({reason}). Клиент получил заготовленный ответ, диалог {dialog} "
    "передан оператору.",
    "en": "b24claude: Claude did not answer ({reason}). The customer got a prepared reply; dialogue {dialog} "
    "was passed to an operator.",
}


def prepared_reply(language: str, *, open_line: bool) -> str:
    texts = PREPARED.get(language, PREPARED["ru"])
    return texts["line" if open_line else "chat"]


def reason_of(exc: LLMError) -> str:
    """A short reason from a fixed set, for the handoff record, the alert and the logs."""
    if isinstance(exc, LLMSpendLimitReached):
        return "spend_limit"
    return exc.code or "llm_error"


class Failover:
    def __init__(self, *, chat: ChatGateway, effects: EffectRepository) -> None:
        self._chat = chat
        self._effects = effects

    async def begin(self, inbox_id: int, exc: LLMError) -> None:
        """Record that this message is being answered without Claude (before the prepared reply)."""
        await self._effects.record_intent(inbox_id, "handoff", {"reason": reason_of(exc)})

    async def pending(self, inbox_id: int) -> str | None:
        """The reason of a failover this row started and did not finish (a replay resumes it)."""
        effect = await self._effects.get(inbox_id, "handoff")
        if effect is None or effect.status == "done":
            return None
        return str(effect.payload.get("reason") or "llm_error")

    async def finish(
        self,
        msg: IncomingMessage,
        inbox_id: int,
        *,
        reason: str,
        language: str,
        alert_user_ids: Sequence[int],
    ) -> None:
        """Steps 3 and 4, after the prepared reply was sent."""
        transferred = False
        if msg.is_open_line and msg.chat_id:
            try:
                await self._chat.hand_to_operator(msg.member_id, chat_id=msg.chat_id)
                transferred = True
            except Bitrix24Error as exc:
                log.error(
                    "conversation.handoff_failed",
                    extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "code": exc.code},
                )
        await self._effects.record_done(inbox_id, "handoff", {"reason": reason, "transferred": transferred})
        await self._alert(msg, inbox_id, reason=reason, language=language, user_ids=alert_user_ids)
        log.warning(
            "conversation.answered_without_claude",
            extra={
                "member_id": msg.member_id,
                "dialog_key": msg.dialog_key,
                "inbox_id": inbox_id,
                "reason": reason,
                "transferred": transferred,
            },
        )

    async def _alert(
        self, msg: IncomingMessage, inbox_id: int, *, reason: str, language: str, user_ids: Sequence[int]
    ) -> None:
        done = await self._effects.get(inbox_id, "alert")
        if done is not None and done.status == "done":
            return
        text = ALERT.get(language, ALERT["ru"]).format(reason=reason, dialog=msg.dialog_id)
        sent: list[int] = []
        for user_id in user_ids:
            try:
                # One tag per reason: a storm of failures leaves one current notification, not hundreds.
                await self._chat.notify_user(
                    msg.member_id, user_id=user_id, text=text, tag=f"b24claude:{reason}"
                )
                sent.append(user_id)
            except Bitrix24Error as exc:
                log.error("alert.failed", extra={"member_id": msg.member_id, "code": exc.code})
        log.error(
            "alert.claude_unavailable",
            extra={"member_id": msg.member_id, "reason": reason, "notified": len(sent)},
        )
        result: dict[str, Any] = {"notified": sent}
        await self._effects.record_done(inbox_id, "alert", result)


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
