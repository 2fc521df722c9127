"""The CRM assist domain on the dispatcher: the card as context (stage "context"), the contacts the
customer wrote captured after the reply (a ``ReplySent`` listener)."""

from __future__ import annotations

from b24claude.crm_assist.service import ClientCards
from b24claude.dispatch import Context, Flow, MessageContext, Pipeline, ReplySent, Router
from b24claude.events.models import CrmChanged


def register_steps(pipeline: Pipeline, cards: ClientCards) -> None:
    async def load_card(turn: MessageContext) -> Flow | None:
        turn.card = await cards.client_card(turn.msg, turn.require_mask())
        return None

    pipeline.register("context", load_card, name="crm_assist.card")


def crm_assist_router(cards: ClientCards) -> Router:
    router = Router("crm_assist")

    @router.on(ReplySent).listen()
    async def capture_contacts(event: ReplySent, ctx: Context) -> None:
        turn = event.turn
        await cards.capture_contacts(
            turn.msg,
            ctx.row_effects(),
            turn.require_mask(),
            masked=turn.masked,
            raw=turn.text,
            card=turn.card,
        )

    @router.on(CrmChanged)()
    async def crm_changed(update: CrmChanged, ctx: Context) -> None:
        await cards.forget_entity(update.member_id, update.entity, update.entity_id)

    return router
