"""Routing's fixed vocabularies and texts: handoff reasons, prepared replies, alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from b24claude.errors import LLMError, LLMSpendLimitReached
from b24claude.ports.bitrix import BotCommand

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

# The bot's commands routing answers (registered at install): a customer's /operator in Open Lines
# transfers to a human at once, whatever the prefilter settings.
OPERATOR_COMMAND = "operator"
COMMANDS = (BotCommand(OPERATOR_COMMAND, {"ru": "Позвать оператора", "en": "Call an operator"}),)

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


# --- per-portal settings: Portal.settings["routing"] ------------------------------------------------

CANNED = {
    "greeting": {
        "ru": "Здравствуйте! Чем могу помочь?",
        "en": "Hello! How can I help you?",
    },
    "thanks": {
        "ru": "Пожалуйста! Если появятся вопросы — пишите.",
        "en": "You're welcome! Write any time you have a question.",
    },
    "files_only": {
        "ru": "Спасибо, файл получил. Напишите, пожалуйста, словами, в чём ваш вопрос, — так я смогу помочь.",
        "en": "Thank you, I've got the file. Please tell me in words what your question is, so I can help.",
    },
    "handoff": {
        "ru": "Передаю диалог специалисту — он ответит вам здесь.",
        "en": "I'm passing the dialogue to a specialist — they will reply here.",
    },
    "escalated": {
        "ru": "Мне очень жаль, что так вышло. Я передал ваше обращение старшему специалисту, он свяжется с вами "
        "в ближайшее время.",
        "en": "I'm very sorry about this. I've passed your request to a senior specialist who will contact you "
        "shortly.",
    },
    "after_hours": {
        "ru": "Сейчас операторы не на связи (часы работы: {hours}); специалист ответит, как только начнётся "
        "рабочее время.",
        "en": "Our operators are offline now (working hours: {hours}); a specialist will reply as soon as they "
        "are back.",
    },
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: an employee, or an Open Line's queue (``QUEUE_ID`` = the line's id)."""

    user_id: int | None = None
    queue_id: int | None = None


@dataclass(frozen=True, slots=True)
class WorkingHours:
    utc_offset_h: float = 3.0  # Moscow
    days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays
    start_min: int = 9 * 60
    end_min: int = 18 * 60

    def label(self) -> str:
        return f"{self.start_min // 60:02d}:{self.start_min % 60:02d}–{self.end_min // 60:02d}:{self.end_min % 60:02d}"


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """``Portal.settings["routing"]``, every key optional (editable per portal)."""

    prefilter: bool = True  # greetings, thanks, spam, requests for a human: answered by rules
    internal_chats: bool = False  # answer employees in private chats and group-chat mentions
    competence: Mapping[str, Target] = field(default_factory=dict)  # request type/topic → target
    supervisor_id: int | None = None  # else the head of the target's department
    vip_contact_ids: frozenset[int] = frozenset()
    vip_user_ids: frozenset[int] = frozenset()
    working_hours: WorkingHours | None = None  # None: operators always on
    answers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # overrides of CANNED

    def text(self, name: str, language: str, **values: str) -> str:
        texts = {**CANNED.get(name, {}), **(self.answers.get(name) or {})}
        return (texts.get(language) or texts.get("ru") or "").format(**values)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> RoutingSettings:
        raw = (settings or {}).get("routing") if hasattr(settings, "get") else None
        if not isinstance(raw, Mapping):
            return cls()
        competence: dict[str, Target] = {}
        for key, value in (raw.get("competence") or {}).items():
            if isinstance(value, Mapping):
                competence[str(key)] = Target(_int(value.get("user_id")), _int(value.get("queue_id")))
        hours = raw.get("working_hours")
        working = None
        if isinstance(hours, Mapping):
            working = WorkingHours(
                utc_offset_h=float(hours.get("utc_offset_h", 3.0)),
                days=tuple(int(d) for d in hours.get("days", (1, 2, 3, 4, 5))),
                start_min=_minutes(str(hours.get("from", "09:00"))),
                end_min=_minutes(str(hours.get("to", "18:00"))),
            )
        answers = raw.get("answers")
        return cls(
            prefilter=bool(raw.get("prefilter", True)),
            internal_chats=bool(raw.get("internal_chats", False)),
            competence=competence,
            supervisor_id=_int(raw.get("supervisor_id")),
            vip_contact_ids=frozenset(i for i in map(_int, raw.get("vip_contact_ids") or ()) if i),
            vip_user_ids=frozenset(i for i in map(_int, raw.get("vip_user_ids") or ()) if i),
            working_hours=working,
            answers={str(k): dict(v) for k, v in answers.items() if isinstance(v, Mapping)}
            if isinstance(answers, Mapping)
            else {},
        )


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)
