"""The SQL repository of the knowledge loop: unanswered questions and FAQ suggestions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select, update

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import kb_questions, kb_suggestions
from b24claude.ports.knowledge import (
    FaqSuggestion,
    QuestionStatus,
    SuggestionStatus,
    UnansweredQuestion,
)


class SqlSuggestionRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add_question(self, question: UnansweredQuestion) -> bool:
        values = {k: v for k, v in asdict(question).items() if k != "id"}
        stmt = (
            self._db.insert(kb_questions)
            .values(values)
            .on_conflict_do_nothing(index_elements=["member_id", "dialog_key", "message_id"])
        )
        async with self._db.write("kb.question.add") as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def questions(self, member_id: str, *, status: QuestionStatus) -> list[UnansweredQuestion]:
        q = kb_questions.c
        stmt = select(kb_questions).where(q.member_id == member_id, q.status == status).order_by(q.id)
        async with self._db.read("kb.questions") as conn:
            return [UnansweredQuestion(**dict(r._mapping)) for r in (await conn.execute(stmt)).all()]

    async def _set_question(self, operation: str, question_id: int, **values: Any) -> None:
        stmt = update(kb_questions).where(kb_questions.c.id == question_id).values(**values)
        async with self._db.write(operation) as conn:
            await conn.execute(stmt)

    async def resolve(self, question_id: int, *, answer: str) -> None:
        await self._set_question("kb.question.resolve", question_id, answer=answer, status="resolved")

    async def attach(self, question_id: int, suggestion_id: int) -> None:
        await self._set_question(
            "kb.question.attach", question_id, suggestion_id=suggestion_id, status="suggested"
        )

    async def add_suggestion(
        self, member_id: str, *, question: str, answer: str, lemmas: str, now: float
    ) -> int:
        stmt = (
            kb_suggestions.insert()
            .values(
                member_id=member_id,
                question=question,
                answer=answer,
                lemmas=lemmas,
                questions=1,
                status="pending",
                source="",
                created_at=now,
            )
            .returning(kb_suggestions.c.id)
        )
        async with self._db.write("kb.suggestion.add") as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def grow(self, suggestion_id: int) -> None:
        s = kb_suggestions.c
        stmt = update(kb_suggestions).where(s.id == suggestion_id).values(questions=s.questions + 1)
        async with self._db.write("kb.suggestion.grow") as conn:
            await conn.execute(stmt)

    async def suggestions(
        self, member_id: str, *, status: SuggestionStatus | None = None
    ) -> list[FaqSuggestion]:
        s = kb_suggestions.c
        stmt = select(kb_suggestions).where(s.member_id == member_id).order_by(s.id)
        if status is not None:
            stmt = stmt.where(s.status == status)
        async with self._db.read("kb.suggestions") as conn:
            return [FaqSuggestion(**dict(r._mapping)) for r in (await conn.execute(stmt)).all()]

    async def get_suggestion(self, member_id: str, suggestion_id: int) -> FaqSuggestion | None:
        s = kb_suggestions.c
        stmt = select(kb_suggestions).where(s.member_id == member_id, s.id == suggestion_id)
        async with self._db.read("kb.suggestion.get") as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else FaqSuggestion(**dict(row._mapping))

    async def decide(
        self, suggestion_id: int, *, status: SuggestionStatus, answer: str, source: str, now: float
    ) -> None:
        stmt = (
            update(kb_suggestions)
            .where(kb_suggestions.c.id == suggestion_id)
            .values(status=status, answer=answer, source=source, decided_at=now)
        )
        async with self._db.write("kb.suggestion.decide") as conn:
            await conn.execute(stmt)
