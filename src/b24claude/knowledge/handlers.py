"""The knowledge domain on the dispatcher: the passages that ground the answer (stage "context")."""

from __future__ import annotations

from b24claude.dispatch import Flow, MessageContext, Pipeline
from b24claude.ports.knowledge import KnowledgeSource

PASSAGES = 3


def register_steps(pipeline: Pipeline, knowledge: KnowledgeSource) -> None:
    async def retrieve(turn: MessageContext) -> Flow | None:
        # The masked text: placeholders, never a customer's phone, go into the search (and its logs).
        turn.passages = await knowledge.search(turn.member_id, turn.masked, limit=PASSAGES)
        return None

    pipeline.register("context", retrieve, name="knowledge.passages")
