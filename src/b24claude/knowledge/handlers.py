"""The knowledge domain on the dispatcher: the passages that ground the answer (stage "context"), and the
questions the base could not answer, kept for the knowledge loop (knowledge/suggestions.py)."""

from __future__ import annotations

from b24claude.dispatch import Flow, MessageContext, Pipeline
from b24claude.knowledge.suggestions import SuggestionService
from b24claude.ports.knowledge import KnowledgeSource, UnansweredQuestion

PASSAGES = 3


def register_steps(
    pipeline: Pipeline, knowledge: KnowledgeSource, suggestions: SuggestionService | None = None
) -> None:
    async def retrieve(turn: MessageContext) -> Flow | None:
        # The masked text: placeholders, never a customer's phone, go into the search (and its logs).
        turn.passages = await knowledge.search(turn.member_id, turn.masked, limit=PASSAGES)
        if not turn.passages and suggestions is not None and turn.msg.is_open_line:
            # No passage good enough: the answer declines and promises a specialist; an operator's
            # reply to it may become an FAQ entry.
            msg = turn.msg
            await suggestions.record(
                UnansweredQuestion(
                    member_id=msg.member_id,
                    dialog_key=msg.dialog_key,
                    dialog_id=msg.dialog_id,
                    message_id=msg.message_id,
                    author_id=msg.author_id,
                    bot_id=msg.bot_id or (turn.ctx.portal.bot_id or 0),
                    bot_api=msg.bot_api,
                    question=turn.masked,
                    language=turn.language,
                )
            )
        return None

    pipeline.register("context", retrieve, name="knowledge.passages")
