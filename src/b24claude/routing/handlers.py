"""The routing domain on the dispatcher.

- stage "answer" (after the answer step): when Claude could not answer, the handoff is recorded and
  the customer gets the prepared reply (the failover);
- ``ReplySent`` listener: a handoff this row started is carried out once the reply is out.
"""

from __future__ import annotations

from b24claude.dispatch import Context, Flow, MessageContext, Pipeline, ReplySent, Router
from b24claude.routing.schemas import failover_reason, prepared_reply
from b24claude.routing.service import HandoffService, alert_user_ids


def register_steps(pipeline: Pipeline, handoffs: HandoffService) -> None:
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

    pipeline.register("answer", failover, name="routing.failover")


def routing_router(handoffs: HandoffService) -> Router:
    router = Router("routing")

    @router.on(ReplySent).listen()
    async def finish_handoff(event: ReplySent, ctx: Context) -> None:
        effects = ctx.row_effects()
        pending = await handoffs.pending(effects)
        if pending is not None:
            reason, detail = pending
            await handoffs.finish(
                event.turn.msg,
                effects,
                reason=reason,
                detail=detail,
                language=event.turn.language,
                alert_user_ids=alert_user_ids(ctx.portal.settings),
            )

    return router
