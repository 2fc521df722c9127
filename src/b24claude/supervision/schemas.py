"""Supervision's settings, commands and texts (``Portal.settings["supervision"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from b24claude.ports.bitrix import BotCommand

APPROVE, EDIT, REJECT, RATE, FLAG = "approve", "edit", "reject", "rate", "flag"
MODERATOR_COMMANDS = frozenset({APPROVE, EDIT, REJECT})
COMMANDS = (
    # Moderators press buttons under a draft in their private chat with the bot; /edit is typed (the
    # "edit" button puts "/edit <n> " into the input field). Hidden: not in the command list.
    BotCommand(APPROVE, {"ru": "Одобрить ответ", "en": "Approve the answer"}, hidden=True),
    BotCommand(EDIT, {"ru": "Исправить ответ", "en": "Edit the answer"}, hidden=True),
    BotCommand(REJECT, {"ru": "Отклонить ответ", "en": "Reject the answer"}, hidden=True),
    # Customers' rating buttons under an answer.
    BotCommand(RATE, {"ru": "Оценить ответ", "en": "Rate the answer"}, hidden=True),
    # An operator in an Open Lines chat flags the bot's last answer there; common: the bot may have left
    # the chat after the transfer.
    BotCommand(FLAG, {"ru": "Пометить ответ бота как плохой", "en": "Flag the bot's answer"}, common=True),
)

TEXTS: dict[str, dict[str, str]] = {
    "draft": {
        "ru": "b24claude: черновик ответа №{id} клиенту {client} (диалог {dialog}).\nВопрос: {question}\n"
        "Ответ бота: {draft}\n\nОдобрите, исправьте (/edit {id} ваш текст) или отклоните — до решения клиент "
        "ответа не видит.",
        "en": "b24claude: draft answer #{id} to {client} (dialogue {dialog}).\nQuestion: {question}\n"
        "Bot's answer: {draft}\n\nApprove, edit (/edit {id} your text) or reject it — the customer sees nothing "
        "until you decide.",
    },
    "approve": {"ru": "✅ Одобрить", "en": "✅ Approve"},
    "edit": {"ru": "✏️ Исправить", "en": "✏️ Edit"},
    "reject": {"ru": "❌ Отклонить", "en": "❌ Reject"},
    "sent": {"ru": "Ответ №{id} отправлен клиенту.", "en": "Answer #{id} was sent to the customer."},
    "rejected": {
        "ru": "Ответ №{id} отклонён; диалог передан вам — ответьте клиенту сами.",
        "en": "Answer #{id} was rejected; the dialogue is yours — answer the customer yourself.",
    },
    "decided": {
        "ru": "Ответ №{id} уже обработан ({status}); ничего не отправлено повторно.",
        "en": "Answer #{id} was already handled ({status}); nothing was sent again.",
    },
    "unknown": {"ru": "Черновик №{id} не найден.", "en": "Draft #{id} was not found."},
    "edit_usage": {
        "ru": "Напишите: /edit {id} исправленный текст",
        "en": "Write: /edit {id} the corrected text",
    },
    "to_human": {
        "ru": "Уточняю ваш вопрос у специалиста — он ответит вам здесь.",
        "en": "I'm checking your question with a specialist — they will reply here.",
    },
    "rate_up": {"ru": "👍 Полезно", "en": "👍 Helpful"},
    "rate_down": {"ru": "👎 Не помогло", "en": "👎 Not helpful"},
    "flagged": {
        "ru": "b24claude: ответ бота в диалоге {dialog} помечен как плохой. Спасибо!",
        "en": "b24claude: the bot's answer in dialogue {dialog} was flagged. Thank you!",
    },
}


def text(name: str, language: str, **values: object) -> str:
    texts = TEXTS[name]
    return (texts.get(language) or texts["ru"]).format(**values)


@dataclass(frozen=True, slots=True)
class SupervisionSettings:
    """``Portal.settings["supervision"]``, every key optional."""

    moderation: bool = False  # hold every model answer in Open Lines for an operator's approval
    moderators: tuple[int, ...] = ()  # who approves (else who hears alerts: the installing admin)
    ratings: bool = True  # rating buttons under the bot's answers in Open Lines
    examples: bool = True  # operators' edits go to the model as examples of the right answer

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> SupervisionSettings:
        raw = (settings or {}).get("supervision") if hasattr(settings, "get") else None
        alerts = (settings or {}).get("alerts") if hasattr(settings, "get") else None
        fallback = alerts.get("user_ids") if isinstance(alerts, Mapping) else None
        if not isinstance(raw, Mapping):
            raw = {}
        people = raw.get("moderators") or fallback or ()
        return cls(
            moderation=bool(raw.get("moderation", False)),
            moderators=tuple(i for i in (_int(v) for v in people) if i > 0),
            ratings=bool(raw.get("ratings", True)),
            examples=bool(raw.get("examples", True)),
        )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
