"""The routing domain on the dispatcher.

- stage "prefilter": silent while a human holds the session; internal chats only when the portal allows;
  rules without an LLM (greetings, thanks, spam; a request for a human → handoff at once);
- stage "context" (after the CRM card): a critical complaint, or a VIP client's complaint → handoff
  with escalation to a supervisor; the classifier says a human must answer (``needs_human``) or it
  abstained under the portal's threshold (``low_confidence``) → handoff (the classifier's fresh verdict
  from triage's step on "classify", else rules on the text);
- stage "answer" (after the answer step): when Claude could not answer, the failover;
- ``ReplySent`` listener: the handoff this row started is carried out once the reply is out;
- ``BotJoined`` listener: the bot brought back into a dialogue speaks again.
"""

from __future__ import annotations

from b24claude.dispatch import Context, Flow, MessageContext, Pipeline, ReplySent, Router
from b24claude.events.models import BotJoined, dialog_key
from b24claude.kit.clock import Clock
from b24claude.routing.competence import is_critical, topic_of
from b24claude.routing.prefilter import has_words, intent_of, is_open
from b24claude.routing.schemas import (
    OPERATOR_COMMAND,
    HandoffReason,
    RoutingSettings,
    failover_reason,
    prepared_reply,
)
from b24claude.routing.service import FAILOVER_REASONS, HandoffService, alert_user_ids


def register_steps(pipeline: Pipeline, handoffs: HandoffService, clock: Clock) -> None:
    async def gate(turn: MessageContext) -> Flow | None:
        settings = RoutingSettings.from_settings(turn.ctx.portal.settings)
        if not turn.msg.is_open_line and not settings.internal_chats:
            turn.notes.append("internal_chat_off")
            return Flow.STOP
        if await handoffs.is_silent(turn.msg):
            turn.notes.append("silent_after_handoff")
            return Flow.STOP
        return None

    async def rules(turn: MessageContext) -> Flow | None:
        settings = RoutingSettings.from_settings(turn.ctx.portal.settings)
        if turn.command == OPERATOR_COMMAND:
            if turn.msg.is_open_line:  # /operator: always, at once, through the one handoff path
                return await _hand_off(turn, "operator_command", settings, urgent=False)
            turn.notes.append("operator_command_outside_lines")
            return Flow.STOP
        if turn.files and not has_words(turn.text):
            # Only a photo or a file: nothing to answer yet; ask for words (the file goes to the brief
            # if a human takes the dialogue over: HandoffService._brief).
            turn.notes.append("files_only")
            turn.reply, turn.reply_kind = settings.text("files_only", turn.language), "rule"
            return Flow.SEND
        if not settings.prefilter:
            return None
        intent = intent_of(turn.text)
        if intent == "spam":
            turn.notes.append("spam")
            return Flow.STOP
        if intent in ("greeting", "thanks"):
            turn.reply, turn.reply_kind = settings.text(intent, turn.language), "rule"
            return Flow.SEND
        if intent == "human" and turn.msg.is_open_line:
            return await _hand_off(turn, "customer_request", settings, urgent=False)
        return None

    async def escalate(turn: MessageContext) -> Flow | None:
        if not turn.msg.is_open_line:
            return None
        settings = RoutingSettings.from_settings(turn.ctx.portal.settings)
        # The classifier's verdict on this message when it gave one; its earlier labels (already acted
        # on) or none at all: the rules on the text.
        c = turn.classification if turn.classification is not None and turn.classification.fresh else None
        complaint = (c.type == "complaint") if c is not None else topic_of(turn.text) == "complaint"
        critical = (c.urgency == "critical") if c is not None else is_critical(turn.text)
        refs = turn.card.refs if turn.card is not None else turn.msg.crm_refs
        vip = turn.msg.author_id in settings.vip_user_ids or bool(
            refs.contact_id and refs.contact_id in settings.vip_contact_ids
        )
        if complaint and critical:
            return await _hand_off(turn, "critical_complaint", settings, urgent=True)
        if vip and complaint:
            return await _hand_off(turn, "vip", settings, urgent=True)
        if c is not None and c.needs_human:
            return await _hand_off(turn, "needs_human", settings, urgent=False)
        if c is not None and c.abstained:
            return await _hand_off(turn, "low_confidence", settings, urgent=False)
        return None

    async def _hand_off(
        turn: MessageContext, reason: HandoffReason, settings: RoutingSettings, *, urgent: bool
    ) -> Flow:
        await handoffs.begin(turn.ctx.row_effects(), reason, topic=topic_of(turn.text), urgent=urgent)
        text = settings.text("escalated" if urgent else "handoff", turn.language)
        if not is_open(settings.working_hours, clock.now()) and settings.working_hours is not None:
            text += " " + settings.text("after_hours", turn.language, hours=settings.working_hours.label())
        turn.reply, turn.reply_kind = text, "handoff"
        return Flow.SEND

    async def failover(turn: MessageContext) -> Flow | None:
        if turn.llm_error is None or turn.reply is not None:
            return None
        # Claude is down, over budget or refused: a prepared reply now, then a human.
        reason, detail = failover_reason(turn.llm_error)
        await handoffs.begin(turn.ctx.row_effects(), reason, detail=detail)
        turn.reply = prepared_reply(turn.language, open_line=turn.msg.is_open_line)
        turn.reply_kind = "prepared"
        turn.citations = ()
        return Flow.SEND

    pipeline.register("prefilter", gate, name="routing.gate")
    pipeline.register("prefilter", rules, name="routing.rules")
    pipeline.register("context", escalate, name="routing.escalate")
    pipeline.register("answer", failover, name="routing.failover")


def routing_router(handoffs: HandoffService) -> Router:
    router = Router("routing")

    @router.on(ReplySent).listen()
    async def finish_handoff(event: ReplySent, ctx: Context) -> None:
        effects = ctx.row_effects()
        pending = await handoffs.pending(effects)
        if pending is None:
            return
        reason, detail = pending
        if reason in FAILOVER_REASONS:
            await handoffs.finish(
                event.turn.msg,
                effects,
                reason=reason,
                detail=detail,
                language=event.turn.language,
                alert_user_ids=alert_user_ids(ctx.portal.settings),
            )
        else:
            await handoffs.carry_out(
                event.turn, effects, settings=RoutingSettings.from_settings(ctx.portal.settings)
            )

    @router.on(BotJoined).listen()
    async def bot_back(event: BotJoined, ctx: Context) -> None:
        await handoffs.give_back(event.member_id, dialog_key(event.dialog_id))

    return router
