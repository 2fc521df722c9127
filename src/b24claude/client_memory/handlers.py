"""The client-memory domain on the dispatcher: what earlier dialogues taught about the client (stage
"context", after the CRM card has bound the dialogue to its contact)."""

from __future__ import annotations

import logging

from b24claude.dispatch import Flow, MessageContext, Pipeline
from b24claude.errors import StorageError
from b24claude.ports.memory import ClientRecall
from b24claude.ports.privacy import SubjectRepository

log = logging.getLogger("b24claude.client_memory")


def register_steps(pipeline: Pipeline, memory: ClientRecall, subjects: SubjectRepository) -> None:
    async def recall(turn: MessageContext) -> Flow | None:
        subject = await subjects.get(turn.member_id, turn.dialog_key)
        try:
            turn.memory = await memory.recall(
                turn.member_id,
                author_id=turn.msg.author_id,
                contact_id=subject.contact_id if subject else None,
            )
        except StorageError as exc:  # the answer goes on without what was remembered
            log.warning("memory.recall_failed", extra={"member_id": turn.member_id, "code": exc.code})
        return None

    pipeline.register("context", recall, name="client_memory.recall")
