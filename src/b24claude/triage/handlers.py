"""The triage domain on the dispatcher: the classify step (stage "classify").

The step classifies the dialogue after the customer's new message — masked turns only, the new one
last — and leaves the labels in ``turn.classification`` for routing (handoff: needs a human, abstained
under the portal's threshold, a critical complaint) and for usage (the answer's model). The service
asks the cheap model only for the dialogue's first request and when it may have turned (a cue word,
or every ``recheck_every`` customer messages); otherwise the dialogue's stored labels are handed on
with ``fresh=False``, so a verdict already acted on does not hand the dialogue over again (after an
operator gave it back, say). A failed model call leaves the message unclassified: routing uses its
rules and the answer goes on — except a spend cap, which no answer call would get past either.
"""

from __future__ import annotations

from b24claude.dispatch import Classification, Flow, MessageContext, Pipeline
from b24claude.errors import LLMSpendLimitReached
from b24claude.ports.llm import ChatTurn
from b24claude.ports.store import DialogueRepository
from b24claude.triage.service import TriageService

# Customer turns the classifier counts (the service compares the count with the last classification's
# to tell a new message from a replay); the model itself sees the last 12 turns (triage.prompt).
HISTORY_TURNS = 400


def register_steps(pipeline: Pipeline, triage: TriageService, dialogues: DialogueRepository) -> None:
    async def classify(turn: MessageContext) -> Flow | None:
        if turn.reply is not None:  # decided already (a rule, a blocked injection): nothing to classify
            return None
        turns = await dialogues.last_turns(turn.member_id, turn.dialog_key, limit=HISTORY_TURNS)
        history = [ChatTurn(t.role, t.text) for t in turns]
        if not history or history[-1].role != "user" or history[-1].text != turn.masked:
            history.append(ChatTurn("user", turn.masked))
        outcome = await triage.classify(
            member_id=turn.member_id,
            dialog_key=turn.dialog_key,
            history=history,
            portal_settings=turn.ctx.portal.settings,
            refs=turn.msg.crm_refs,
            inbox_id=turn.ctx.inbox_id,
            language=turn.language,
        )
        if isinstance(outcome.error, LLMSpendLimitReached):
            # The organisation is out of money: no answer can be asked for either. Routing's failover
            # gives the prepared reply, hands the dialogue over and alerts the admins.
            turn.llm_error = outcome.error
        record = outcome.record
        if record is None:
            return None
        turn.classification = Classification(
            type=record.type,
            urgency=record.urgency,
            sentiment=record.sentiment,
            needs_human=record.needs_human,
            topic=record.topic,
            confidence=record.confidence,
            abstained=record.abstained,
            fresh=outcome.classified_now,
        )
        turn.notes.append(f"triage:{outcome.reason}")
        return None

    pipeline.register("classify", classify, name="triage.classify")
