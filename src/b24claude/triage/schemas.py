"""The classification's shape: what Claude must return (JSON schema) and the validated result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from b24claude.errors import LLMError
from b24claude.ports.triage import TriageRecord

RequestType = Literal["support", "sales", "complaint", "consultation", "spam", "smalltalk"]
Urgency = Literal["low", "normal", "high", "critical"]
Sentiment = Literal["positive", "neutral", "negative"]

TYPES: tuple[str, ...] = ("support", "sales", "complaint", "consultation", "spam", "smalltalk")
URGENCIES: tuple[str, ...] = ("low", "normal", "high", "critical")
SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative")


class Classification(BaseModel):
    """One classification as the model returned it (validated: a bad answer is an error, not a guess)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RequestType
    urgency: Urgency
    sentiment: Sentiment
    needs_human: bool
    topic: str = Field(max_length=120)
    confidence: float = Field(ge=0.0, le=1.0)


def output_schema() -> dict[str, Any]:
    """The structured-output schema, kept to the subset the API accepts (reference/anthropic.md §5):
    type, properties, required, enum, additionalProperties — no length or item bounds."""
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": list(TYPES)},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
            "sentiment": {"type": "string", "enum": list(SENTIMENTS)},
            "needs_human": {"type": "boolean"},
            "topic": {"type": "string"},
            "confidence": {"type": "number"},
        },
        "required": ["type", "urgency", "sentiment", "needs_human", "topic", "confidence"],
        "additionalProperties": False,
    }


@dataclass(frozen=True, slots=True)
class TriageSettings:
    """Per portal (``Portal.settings["triage"]``), over the service-wide defaults."""

    enabled: bool = True
    model: str = "claude-haiku-5-5"
    min_confidence: float = 0.6  # under it the bot abstains: a human takes the dialogue
    recheck_every: int = 4  # re-classify at least every N customer messages even without a turn cue
    timeline_comment: bool = True  # write the classification into the bound CRM entity's timeline
    crm_field: str = ""  # e.g. "UF_CRM_B24C_TRIAGE": also write "type/urgency/sentiment" into it

    @classmethod
    def of(cls, portal_settings: Mapping[str, Any], defaults: TriageSettings) -> TriageSettings:
        raw = portal_settings.get("triage")
        if not isinstance(raw, Mapping):
            return defaults
        return cls(
            enabled=bool(raw.get("enabled", defaults.enabled)),
            model=str(raw.get("model") or defaults.model),
            min_confidence=_share(raw.get("min_confidence"), defaults.min_confidence),
            recheck_every=max(1, _int(raw.get("recheck_every"), defaults.recheck_every)),
            timeline_comment=bool(raw.get("timeline_comment", defaults.timeline_comment)),
            crm_field=str(raw.get("crm_field") or defaults.crm_field),
        )


@dataclass(frozen=True, slots=True)
class TriageOutcome:
    """What the classify step hands on: the labels (None when the classifier could not be asked) and
    whether this message changed them."""

    record: TriageRecord | None
    classified_now: bool = False  # a model call was made for this message
    turned: bool = False  # first classification, or the dialogue turned (complaint, sentiment drop...)
    reason: str = ""  # why it was (re)classified or not: first, cue, periodic, unchanged, failed, disabled
    error: LLMError | None = None  # why the model could not be asked (reason "failed")

    @property
    def needs_human(self) -> bool:
        """Hand to a human: the model says so, or it is not sure enough (abstained)."""
        return self.record is not None and (self.record.needs_human or self.record.abstained)


def _share(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return min(1.0, max(0.0, number))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
