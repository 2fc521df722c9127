"""Routing's fixed vocabularies and texts: handoff reasons, prepared replies, alerts."""

from __future__ import annotations

from typing import Literal, get_args

from b24claude.errors import LLMError, LLMSpendLimitReached

# Every handoff carries one of these (the dashboard's "handoffs by reason"):
HandoffReason = Literal[
    "customer_request",  # the customer asked for a human, in words
    "operator_command",  # the customer pressed /operator (ONIMCOMMANDADD)
    "critical_complaint",  # a complaint of critical urgency
    "vip",  # a VIP client's request (CRM card or the portal's list)
    "needs_human",  # the classifier says a human must answer
    "low_confidence",  # the classifier abstained (below the portal's threshold)
    "claude_unavailable",  # every model failed or refused: a prepared reply, then a human
    "spend_limit",  # the organisation hit its spend cap
]
HANDOFF_REASONS: tuple[HandoffReason, ...] = get_args(HandoffReason)

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


def failover_reason(exc: LLMError) -> tuple[HandoffReason, str]:
    """The taxonomy reason and the short detail (the error's code) of a failover."""
    if isinstance(exc, LLMSpendLimitReached):
        return "spend_limit", "spend_limit"
    return "claude_unavailable", exc.code or "llm_error"
