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

from b24claude.dispatch import RowEffects
from b24claude.errors import Bitrix24Error
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import ChatGateway
from b24claude.routing.schemas import ALERT, HandoffReason

log = logging.getLogger("b24claude.routing")

FAILOVER_REASONS = frozenset({"claude_unavailable", "spend_limit"})


class HandoffService:
    def __init__(self, *, chat: ChatGateway) -> None:
        self._chat = chat

    async def begin(self, effects: RowEffects, reason: HandoffReason, *, detail: str = "") -> None:
        """Record that this message's dialogue goes to a human (before any reply is sent)."""
        await effects.intent("handoff", {"reason": reason, "detail": detail or reason})

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
