"""The usage domain on the dispatcher: the answer cache and the answer's model (stage "answer", before
the model is asked), and the answer kept for the next customer (a ``ReplySent`` listener).

- ``usage.answer_cache``: a dialogue's opening question answered before for the same portal, base
  version and client data is served from the cache (``reply_kind="cached"``), no model call;
- ``usage.model``: the model for the answer — routing by difficulty (the classifier's labels, the
  passages found, the question's length), then the portal's monthly budget over it (80 %: the admins
  are told once; 100 %: the cheap model only, or no model at all — the dialogue goes to an operator
  through routing's failover with the reason ``spend_limit``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from b24claude.dispatch import Context, Flow, MessageContext, Pipeline, ReplySent, Router
from b24claude.errors import LLMSpendLimitReached
from b24claude.ports.bitrix import ClientCard
from b24claude.ports.llm import ChatTurn
from b24claude.ports.store import Turn
from b24claude.usage.answer_cache import AnswerCache, AnswerContext, digest
from b24claude.usage.router import AnswerTask
from b24claude.usage.service import UsageService

log = logging.getLogger("b24claude.usage")

Head = Callable[[MessageContext], str]  # the answer prompt's stable head for this turn (conversations)
Alerts = Callable[[Mapping[str, Any]], Sequence[int]]  # who hears about the budget (portal settings)


def answer_context(cache: AnswerCache, turn: MessageContext, head: Head) -> AnswerContext | None:
    """What the answer depends on besides the question and the base; None when it is not a dialogue's
    opening question (a later one may lean on the history)."""
    mask = turn.require_mask()
    return context_for(
        cache,
        member_id=turn.member_id,
        language=turn.language,
        head=head(turn),
        history=turn.history,
        card=turn.card,
        memory=[f.text for f in turn.memory],
        client_id=str(turn.msg.author_id),
        author=turn.msg.author_name,
        masked_author=mask.mask_name(turn.msg.author_name),
    )


def context_for(
    cache: AnswerCache,
    *,
    member_id: str,
    language: str,
    head: str,
    history: Sequence[Turn | ChatTurn],
    card: ClientCard | None,
    memory: Sequence[str],
    client_id: str,
    author: str,
    masked_author: str,
) -> AnswerContext | None:
    """:func:`answer_context` from its parts (``history``: the dialogue's turns, the current message
    last; ``b24claude eval`` calls it too)."""
    earlier = list(history)
    if earlier and earlier[-1].role == "user":
        earlier = earlier[:-1]  # the current message, recorded in the pseudonymise stage
    if any(t.role == "user" and cache.keys(t.text).semantic for t in earlier):
        return None
    # What of the client the prompt carried besides the name (the greeting's slot): company, position,
    # deals, CRM fields, remembered facts. Any of it makes the answer this client's only.
    about: list[str] = []
    if card is not None:
        names = {n for n in (card.name, masked_author, author) if n}
        extra = sorted((k, v) for k, v in card.extra.items() if not _auto_lead_title(k, v, names))
        if card.company or card.position or card.open_deals or extra:
            about.append(repr((card.company, card.position, card.open_deals, extra)))
    return AnswerContext(
        member_id=member_id,
        language=language,
        head_digest=digest(head),
        bot_spoke=any(t.role == "assistant" for t in earlier),
        client_id=client_id,
        client_data="\n".join([*about, *memory]),
        author_name=masked_author,
    )


def _auto_lead_title(key: str, value: str, names: set[str]) -> bool:
    """The title Open Lines gives the lead it makes of a chat: "<name> - <line name>" (nothing the name
    does not say). A title a manager wrote is the client's data."""
    if key != "lead_title":
        return False
    name, sep, rest = value.partition(" - ")
    return bool(sep) and name in names and not re.search(r"[\d\[\]@]", rest)


def register_steps(
    pipeline: Pipeline, usage: UsageService, cache: AnswerCache | None, *, head: Head, alerts: Alerts
) -> None:
    async def serve_cached(turn: MessageContext) -> Flow | None:
        if cache is None or turn.reply is not None or turn.resumed or turn.llm_error is not None:
            return None
        if not usage.settings_for(turn.ctx.portal.settings).answer_cache:
            return None
        ctx = answer_context(cache, turn, head)
        if ctx is None:
            return None
        hit = await cache.lookup(turn.masked, ctx)
        if hit is None:
            return None
        turn.reply, turn.citations, turn.reply_kind = hit.text, hit.citations, "cached"
        turn.model = hit.model or None
        turn.notes.append(f"answer_cache:{hit.kind}:{hit.scope}")
        log.info(
            "usage.answer_cache.hit",
            extra={"member_id": turn.member_id, "dialog_key": turn.dialog_key, "kind": hit.kind, "scope": hit.scope},
        )
        return None

    async def choose_model(turn: MessageContext) -> Flow | None:
        if turn.reply is not None or turn.resumed or turn.llm_error is not None:
            return None
        settings = turn.ctx.portal.settings
        choice = await usage.choose_answer_model(
            turn.member_id,
            AnswerTask(
                turn.masked,
                turn.classification,
                len(turn.passages),
                has_client_card=turn.card is not None and turn.card.kind != "unknown",
            ),
            portal_settings=settings,
            alert_user_ids=alerts(settings),
            language=turn.language,
        )
        turn.notes.append(f"model:{choice.tier}:{choice.reason}")
        if choice.handoff:
            # No model answers this month (the admin's choice): routing's failover hands the dialogue
            # to an operator with a prepared reply and tells the admins, reason "spend_limit".
            turn.llm_error = LLMSpendLimitReached("the portal's monthly Claude budget is spent")
            return None
        turn.model = choice.model
        return None

    pipeline.register("answer", serve_cached, name="usage.answer_cache")
    pipeline.register("answer", choose_model, name="usage.model")


def usage_router(usage: UsageService, cache: AnswerCache | None, *, head: Head) -> Router:
    router = Router("usage")

    @router.on(ReplySent).listen()
    async def keep_answer(event: ReplySent, ctx: Context) -> None:
        turn = event.turn
        if cache is None or event.replayed or turn.resumed or turn.reply_kind != "answer" or turn.reply is None:
            return
        if turn.llm_error is not None or not usage.settings_for(ctx.portal.settings).answer_cache:
            return
        answer_ctx = answer_context(cache, turn, head)
        if answer_ctx is None:
            return
        await cache.store(
            turn.masked,
            answer_ctx,
            reply=turn.reply,
            citations=turn.citations,
            model=turn.model or "",
            origin=turn.dialog_key,
        )

    return router
