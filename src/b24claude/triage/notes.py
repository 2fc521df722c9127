"""What the CRM sees of a classification: a timeline comment (Russian or English) and a field value."""

from __future__ import annotations

from b24claude.ports.triage import TriageRecord
from b24claude.triage.cues import escalated, worsened

_RU = {
    "support": "техподдержка",
    "sales": "продажа",
    "complaint": "жалоба",
    "consultation": "консультация",
    "spam": "спам",
    "smalltalk": "разговор",
    "low": "низкая",
    "normal": "обычная",
    "high": "высокая",
    "critical": "критическая",
    "positive": "позитивный",
    "neutral": "нейтральный",
    "negative": "негативный",
}


def crm_note(record: TriageRecord, previous: TriageRecord | None, *, language: str = "ru") -> str:
    en = language == "en"
    if en:
        head = (
            "Chat request classified by the bot"
            if previous is None
            else "The dialogue turned: classified again"
        )
        human = "yes" if record.needs_human else "no"
        lines = [
            f"{head}.",
            f"Type: {record.type}; urgency: {record.urgency}; sentiment: {record.sentiment}; topic: {record.topic}.",
            f"Needs a person: {human}; confidence {record.confidence:.2f}.",
        ]
        if record.abstained:
            lines.append("The bot is not sure: the dialogue goes to an operator.")
    else:
        head = (
            "Обращение в чате классифицировано ботом"
            if previous is None
            else "Диалог изменился: повторная классификация"
        )
        human = "да" if record.needs_human else "нет"
        lines = [
            f"{head}.",
            f"Тип: {_RU[record.type]}; срочность: {_RU[record.urgency]}; тон: {_RU[record.sentiment]}; "
            f"тема: {record.topic}.",
            f"Нужен человек: {human}; уверенность {record.confidence:.2f}.",
        ]
        if record.abstained:
            lines.append("Бот не уверен: диалог передаётся оператору.")
    if previous is not None:
        changes = _changes(previous, record, en=en)
        if changes:
            lines.append(("Changed: " if en else "Изменилось: ") + "; ".join(changes) + ".")
    return "\n".join(lines)


def _changes(before: TriageRecord, after: TriageRecord, *, en: bool) -> list[str]:
    out: list[str] = []
    label = (lambda v: v) if en else (lambda v: _RU.get(v, v))
    if before.type != after.type:
        out.append(f"{'type' if en else 'тип'} {label(before.type)} → {label(after.type)}")
    if worsened(before.sentiment, after.sentiment):
        out.append(f"{'sentiment' if en else 'тон'} {label(before.sentiment)} → {label(after.sentiment)}")
    if escalated(before.urgency, after.urgency):
        out.append(f"{'urgency' if en else 'срочность'} {label(before.urgency)} → {label(after.urgency)}")
    return out


def field_value(record: TriageRecord) -> str:
    """The compact form for a string field the admin mapped: ``complaint/high/negative``."""
    return f"{record.type}/{record.urgency}/{record.sentiment}"
