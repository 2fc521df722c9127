"""Classify a customer's request with the cheap model; keep the labels with the dialogue; tell the CRM.

When: the first customer message of a dialogue, then again only when the dialogue may have turned
(a rule cue in the new message: a complaint word, a request for a person, shouting) or every
``recheck_every`` customer messages — so steady traffic pays one Haiku call per dialogue, not per
message. A replayed inbox row (same number of customer messages as last time) asks nothing again.

Abstaining: under the portal's ``min_confidence`` the outcome says "needs a human" whatever the model
thought of the request; the routing step hands the dialogue over.

The CRM note is an effect of the inbox row (DESIGN.md §7): intent, write, done — a replay writes
nothing twice. It is written only when the labels are new or the dialogue turned.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from b24claude.errors import Bitrix24Error, LLMError
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import CrmGateway, CrmRefs
from b24claude.ports.llm import LLM, ChatTurn, LLMRequest, LLMResult
from b24claude.ports.store import EffectRepository
from b24claude.ports.triage import TriageRecord, TriageRepository
from b24claude.triage.cues import escalated, turn_cue, worsened
from b24claude.triage.notes import crm_note, field_value
from b24claude.triage.prompt import dialogue_turns, system_blocks
from b24claude.triage.schemas import Classification, TriageOutcome, TriageSettings, output_schema

log = logging.getLogger("b24claude.triage")

EFFECT_KIND = "triage_crm"


class TriageService:
    def __init__(
        self,
        *,
        llm: LLM,
        triage: TriageRepository,
        crm: CrmGateway,
        effects: EffectRepository | None,
        clock: Clock,
        defaults: TriageSettings,
    ) -> None:
        self._llm = llm  # metered: the ledger is written by the wrapper (usage.metered), feature "classify"
        self._repo = triage
        self._crm = crm
        self._effects = effects
        self._clock = clock
        self._defaults = defaults

    def settings_for(self, portal_settings: Mapping[str, Any]) -> TriageSettings:
        return TriageSettings.of(portal_settings, self._defaults)

    async def classify(
        self,
        *,
        member_id: str,
        dialog_key: str,
        history: Sequence[ChatTurn],
        portal_settings: Mapping[str, Any] | None = None,
        refs: CrmRefs | None = None,
        inbox_id: int | None = None,
        language: str = "ru",
    ) -> TriageOutcome:
        """The dialogue's labels after its latest customer message (``history``: masked turns, oldest
        first, the new message last). Never raises for a model failure: the answer goes on without."""
        settings = self.settings_for(portal_settings or {})
        if not settings.enabled:
            return TriageOutcome(None, reason="disabled")
        customer_turns = sum(1 for t in history if t.role == "user")
        previous = await self._repo.get(member_id, dialog_key)
        reason = _why_classify(previous, history, customer_turns, settings)
        if reason is None:
            return TriageOutcome(previous, reason="unchanged")
        try:
            labels, result = await self._ask(member_id, dialog_key, history, settings, inbox_id)
        except LLMError as exc:
            log.warning(
                "triage.classify.failed",
                extra={"member_id": member_id, "dialog_key": dialog_key, "code": exc.code},
            )
            return TriageOutcome(previous, reason="failed", error=exc)
        record = TriageRecord(
            member_id=member_id,
            dialog_key=dialog_key,
            type=labels.type,
            urgency=labels.urgency,
            sentiment=labels.sentiment,
            needs_human=labels.needs_human,
            topic=labels.topic.strip()[:120],
            confidence=labels.confidence,
            abstained=labels.confidence < settings.min_confidence,
            model=result.model,
            version=(previous.version + 1) if previous else 1,
            turns_seen=customer_turns,
            updated_at=self._clock.now(),
        )
        turned = _turned(previous, record)
        await self._repo.put(record)
        log.info(
            "triage.classified",
            extra={
                "member_id": member_id,
                "dialog_key": dialog_key,
                "type": record.type,
                "urgency": record.urgency,
                "sentiment": record.sentiment,
                "needs_human": record.needs_human,
                "confidence": record.confidence,
                "abstained": record.abstained,
                "version": record.version,
                "reason": reason,
                "turned": turned,
            },
        )
        if turned and refs is not None and not refs.is_empty():
            await self._tell_crm(record, previous, refs, settings, inbox_id=inbox_id, language=language)
        return TriageOutcome(record, classified_now=True, turned=turned, reason=reason)

    async def _ask(
        self,
        member_id: str,
        dialog_key: str,
        history: Sequence[ChatTurn],
        settings: TriageSettings,
        inbox_id: int | None,
    ) -> tuple[Classification, LLMResult]:
        blocks = system_blocks()
        result = await self._llm.complete(
            LLMRequest(
                system="\n\n".join(b.text for b in blocks),
                system_blocks=blocks,
                messages=dialogue_turns(history),
                max_tokens=300,
                model=settings.model,
                feature="classify",
                json_schema=output_schema(),
                metadata_user_id=hashlib.sha256(f"{member_id}:{dialog_key}".encode()).hexdigest()[:32],
                member_id=member_id,
                dialog_key=dialog_key,
                inbox_id=inbox_id,
            )
        )
        try:
            return Classification.model_validate(dict(result.parsed or {})), result
        except ValidationError as exc:
            raise LLMError(
                f"classification does not match the schema: {exc.error_count()} errors", code="invalid_json"
            ) from None

    async def _tell_crm(
        self,
        record: TriageRecord,
        previous: TriageRecord | None,
        refs: CrmRefs,
        settings: TriageSettings,
        *,
        inbox_id: int | None,
        language: str,
    ) -> None:
        if not (settings.timeline_comment or settings.crm_field):
            return
        if inbox_id is not None and self._effects is not None:
            done = await self._effects.get(inbox_id, EFFECT_KIND)
            if done is not None and done.status == "done":
                return
            await self._effects.record_intent(inbox_id, EFFECT_KIND, {"version": record.version})
        written: dict[str, str] = {}
        try:
            if settings.timeline_comment:
                text = crm_note(record, previous, language=language)
                written["comment"] = await self._crm.add_timeline_comment(record.member_id, refs, text=text)
            if settings.crm_field:
                written["field"] = await self._crm.set_entity_field(
                    record.member_id, refs, field=settings.crm_field, value=field_value(record)
                )
        except Bitrix24Error as exc:
            # The labels are kept with the dialogue either way; the note is retried with the row.
            log.warning(
                "triage.crm_note.failed",
                extra={"member_id": record.member_id, "dialog_key": record.dialog_key, "code": exc.code},
            )
            raise
        if inbox_id is not None and self._effects is not None:
            await self._effects.record_done(inbox_id, EFFECT_KIND, written)


def _why_classify(
    previous: TriageRecord | None, history: Sequence[ChatTurn], customer_turns: int, settings: TriageSettings
) -> str | None:
    if customer_turns == 0:
        return None
    if previous is None:
        return "first"
    if customer_turns <= previous.turns_seen:
        return None  # a replay of a message already classified
    last = next((t.text for t in reversed(history) if t.role == "user"), "")
    if turn_cue(last):
        return "cue"
    if customer_turns - previous.turns_seen >= settings.recheck_every:
        return "periodic"
    return None


def _turned(previous: TriageRecord | None, now: TriageRecord) -> bool:
    if previous is None:
        return True
    return (
        (now.type == "complaint" and previous.type != "complaint")
        or worsened(previous.sentiment, now.sentiment)
        or escalated(previous.urgency, now.urgency)
        or (now.needs_human and not previous.needs_human)
        or (now.abstained and not previous.abstained)
    )
