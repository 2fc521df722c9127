"""Model routing by task and difficulty: Haiku for what a small model does well, Sonnet for the rest.

Cheap: classification (the triage step asks for it itself), small talk, and simple FAQ answers — a
short consultation question the knowledge base covers, asked calmly. Strong: complaints, negative or
urgent dialogues, sales talk with a client card, long or multi-part questions, anything the
knowledge base does not cover (declining well is harder than quoting), and whatever the classifier
did not label. The rules are deliberately conservative: a wrong "cheap" costs a worse answer, a wrong
"strong" costs a few tenths of a cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from b24claude.usage.schemas import ModelChoice, UsageSettings

_SIMPLE_TYPES = frozenset({"consultation", "smalltalk"})


class Labels(Protocol):
    """The classifier's labels as the router reads them (a stored ``TriageRecord``, or the pipeline's
    ``Classification``)."""

    @property
    def type(self) -> str: ...
    @property
    def urgency(self) -> str: ...
    @property
    def sentiment(self) -> str: ...
    @property
    def abstained(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AnswerTask:
    """What the router needs to know of the message to answer."""

    text: str
    triage: Labels | None
    knowledge_hits: int  # passages retrieved for the question
    has_client_card: bool = False


def route_answer(task: AnswerTask, settings: UsageSettings) -> ModelChoice:
    if not settings.routing:
        return ModelChoice(settings.strong_model, "strong", "routing_off")
    labels = task.triage
    if labels is None or labels.abstained:
        return ModelChoice(settings.strong_model, "strong", "unlabelled")
    if labels.type == "complaint" or labels.sentiment == "negative" or labels.urgency in ("high", "critical"):
        return ModelChoice(settings.strong_model, "strong", "sensitive")
    if labels.type == "smalltalk":
        return ModelChoice(settings.cheap_model, "cheap", "smalltalk")
    if labels.type not in _SIMPLE_TYPES:
        return ModelChoice(settings.strong_model, "strong", "complex")
    if task.knowledge_hits == 0:
        return ModelChoice(settings.strong_model, "strong", "no_knowledge")
    if len(task.text) > settings.simple_max_chars or task.text.count("?") > 1:
        return ModelChoice(settings.strong_model, "strong", "complex")
    return ModelChoice(settings.cheap_model, "cheap", "simple_faq")
