"""The privacy domain on the dispatcher: the mask middleware and the pseudonymise step (DESIGN.md §2 (3)).

The customer's text is pseudonymised per dialogue before anything is stored, cached or sent to Claude;
the placeholders are durable (``mask.save()``) before masked text leaves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from b24claude.dispatch import Context, Flow, MessageContext, Pipeline
from b24claude.dispatch.router import Handler, Middleware
from b24claude.events.models import CommandInvoked, IncomingMessage
from b24claude.ports.privacy import ConsentRepository, Mask
from b24claude.ports.store import Portal
from b24claude.privacy.policy import PrivacyPolicy, client_key
from b24claude.privacy.pseudonymise import Pseudonymiser


def dialogue_masks(
    pseudonymiser: Pseudonymiser, consents: ConsentRepository
) -> Callable[[Portal, str, int], Awaitable[Mask]]:
    """``open(portal, dialog_key, client_user_id)``: a dialogue's mask opened outside its own update (an
    operator's decision about that dialogue's held answer), masking what the portal's policy and the
    client's consent say, like the middleware does. The caller saves it."""

    async def open_mask(portal: Portal, dialog_key: str, client_user_id: int) -> Mask:
        policy = PrivacyPolicy.from_settings(portal.settings)
        consent = (
            await consents.get(portal.member_id, client_key(client_user_id))
            if policy.respect_consent
            else None
        )
        return await pseudonymiser.open(portal.member_id, dialog_key, policy.types_for(consent))

    return open_mask


def mask_middleware(pseudonymiser: Pseudonymiser, consents: ConsentRepository) -> Middleware:
    """Outer middleware: ``await ctx.mask()`` is the dialogue's mask, masking what the portal's policy
    (and the client's consent) says; opened on first use, once per update; new placeholders saved after."""

    async def bind(nxt: Handler, update: Any, ctx: Context) -> None:
        msg = update.msg if isinstance(update, CommandInvoked) else update
        if not isinstance(msg, IncomingMessage):
            await nxt(update, ctx)
            return
        opened: list[Mask] = []

        async def opener() -> Mask:
            if not opened:
                policy = PrivacyPolicy.from_settings(ctx.portal.settings)
                consent = (
                    await consents.get(msg.member_id, client_key(msg.author_id))
                    if policy.respect_consent
                    else None
                )
                opened.append(
                    await pseudonymiser.open(msg.member_id, msg.dialog_key, policy.types_for(consent))
                )
            return opened[0]

        ctx.mask_opener = opener
        try:
            await nxt(update, ctx)
        finally:
            ctx.mask_opener = None
        if opened:
            await opened[0].save()

    return bind


async def pseudonymise(turn: MessageContext) -> Flow | None:
    """``turn.mask`` and ``turn.masked``; the placeholders are stored before the text goes anywhere."""
    mask = await turn.ctx.mask()
    turn.mask = mask
    turn.masked = mask.mask(turn.text)
    await mask.save()
    return None


def register_steps(pipeline: Pipeline) -> None:
    pipeline.register("pseudonymise", pseudonymise, name="privacy.pseudonymise")
