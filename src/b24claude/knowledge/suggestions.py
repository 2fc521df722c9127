"""The knowledge loop (issue 9 part 5): questions the bot could not answer, with the operator replies
that resolved them, clustered into FAQ suggestions that an admin approves into the base.

1. **Record.** When the knowledge step finds no passage good enough (``HybridSearch.search`` returns
   none at ``min_coverage``: the answer step then declines and promises a specialist), the customer's
   question is recorded — masked, as everything the service keeps of a dialogue — once per message.
2. **Collect.** The bot hears nothing once a human holds the Open Lines session (Bitrix24 sends the
   bot's events only while it is the session's operator, reference/bitrix24.md §4.3), so the operators'
   replies are read back from the chat: ``im.dialog.messages.get``; the messages after the question by
   anyone but the customer, the bot and the system, up to the customer's next message, are the answer.
3. **Cluster.** Resolved questions are grouped by their content lemmas (``Lemmatiser``; Jaccard
   similarity ≥ ``SIMILAR``): a question like an open suggestion's joins it, else it starts one.
4. **Decide.** The admin lists, approves (optionally with their own answer) or rejects
   (``b24claude kb suggestions``). An approved suggestion becomes an FAQ entry of the portal's base:
   document ``suggestion://<id>``, entry id ``suggestion-<id>`` — the citation the next answer shows.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from b24claude.errors import BadRequest, Bitrix24Error, NotFound
from b24claude.kit.clock import Clock
from b24claude.knowledge.lemmas import Lemmatiser
from b24claude.knowledge.service import Candidate, KnowledgeService
from b24claude.ports.bitrix import BotIdentity, ChatGateway, ChatMessage
from b24claude.ports.knowledge import FaqSuggestion, SuggestionRepository, UnansweredQuestion

log = logging.getLogger("b24claude.knowledge")

SIMILAR = 0.5  # Jaccard similarity of two questions' lemma sets that puts them in one cluster
MAX_ANSWER_CHARS = 2000
DOCUMENT_SCHEME = "suggestion://"  # a key with a scheme: a folder sync never removes it


def source_of(suggestion_id: int) -> str:
    return f"suggestion-{suggestion_id}"


class SuggestionService:
    def __init__(
        self,
        *,
        repo: SuggestionRepository,
        kb: KnowledgeService,
        lemmatiser: Lemmatiser,
        clock: Clock,
        personal_data: Callable[[str], Sequence[tuple[str, str]]] = lambda _: (),
    ) -> None:
        """``personal_data`` finds what an answer holds of a person, as (type, value) pairs (the PII
        detector, given by the composition root): an operator's reply to one customer ("Ольга, ваш заказ
        …") must not become every customer's answer."""
        self._personal_data = personal_data
        self._repo = repo
        self._kb = kb
        self._lem = lemmatiser
        self._clock = clock

    def key_of(self, text: str) -> frozenset[str]:
        """The content lemmas of a question; placeholders ([ТЕЛЕФОН_1]) and numbers do not count."""
        return frozenset(w for w in self._lem.lemmas(text) if w.isalpha())

    async def record(self, question: UnansweredQuestion) -> bool:
        """Step 1: a question the base had no answer for (once per message; empty keys are not kept)."""
        if not self.key_of(question.question):
            return False
        added = await self._repo.add_question(replace(question, created_at=self._clock.now()))
        if added:
            log.info(
                "kb.question.unanswered",
                extra={"member_id": question.member_id, "dialog_key": question.dialog_key},
            )
        return added

    async def collect(self, member_id: str, chat: ChatGateway, *, bot_code: str = "") -> int:
        """Step 2: read the operators' replies to open questions from their chats; returns how many
        questions got an answer. A chat that cannot be read is left for the next time."""
        resolved = 0
        for q in await self._repo.questions(member_id, status="open"):
            bot = BotIdentity(q.bot_id, bot_code, "v2" if q.bot_api == "v2" else "v1")
            try:
                recent = await chat.recent_messages(member_id, bot, dialog_id=q.dialog_id, limit=50)
            except Bitrix24Error as exc:
                log.warning("kb.question.unread", extra={"member_id": member_id, "code": exc.code})
                continue
            answer = operator_answer(q, recent)
            if answer:
                await self._repo.resolve(q.id, answer=answer[:MAX_ANSWER_CHARS])
                resolved += 1
        return resolved

    async def refresh(self, member_id: str) -> int:
        """Step 3: resolved questions into suggestions; returns how many new suggestions."""
        pending = [
            (s, self.key_of(s.question)) for s in await self._repo.suggestions(member_id, status="pending")
        ]
        created = 0
        for q in await self._repo.questions(member_id, status="resolved"):
            key = self.key_of(q.question)
            match = next((s for s, k in pending if _jaccard(key, k) >= SIMILAR), None)
            if match is not None:
                await self._repo.grow(match.id)
                await self._repo.attach(q.id, match.id)
                continue
            new_id = await self._repo.add_suggestion(
                member_id,
                question=q.question,
                answer=q.answer,
                lemmas=" ".join(sorted(key)),
                now=self._clock.now(),
            )
            await self._repo.attach(q.id, new_id)
            made = await self._repo.get_suggestion(member_id, new_id)
            if made is not None:
                pending.append((made, key))
            created += 1
        if created:
            log.info("kb.suggestions.created", extra={"member_id": member_id, "count": created})
        return created

    async def suggestions(self, member_id: str, *, everything: bool = False) -> list[FaqSuggestion]:
        return await self._repo.suggestions(member_id, status=None if everything else "pending")

    async def approve(
        self, member_id: str, suggestion_id: int, *, answer: str | None = None
    ) -> FaqSuggestion:
        """Step 4: the suggestion becomes an FAQ entry of the portal's base (``suggestion-<id>``)."""
        found = await self._pending(member_id, suggestion_id)
        text = (answer if answer is not None else found.answer).strip()
        if not text:
            raise BadRequest(
                "the suggestion has no answer: give one with --answer / у подсказки нет ответа: задайте --answer"
            )
        held = self._personal_data(text)
        if held:
            shown = ", ".join(f"{kind} «{value}»" for kind, value in held[:5])
            raise BadRequest(
                f"the answer holds personal data ({shown}): give it without them with --answer / "
                f"в ответе есть персональные данные ({shown}): задайте ответ без них через --answer"
            )
        source = source_of(found.id)
        with tempfile.TemporaryDirectory(prefix="b24claude-faq-") as tmp:
            path = Path(tmp) / f"{source}.csv"
            await asyncio.to_thread(_write_faq, path, source, found.question, text)
            outcome = await self._kb.ingest(
                member_id, Candidate(DOCUMENT_SCHEME + str(found.id), path), label=source
            )
        if outcome.status == "failed":
            raise BadRequest(f"the entry could not be stored / запись не сохранена: {outcome.error}")
        await self._repo.decide(
            found.id, status="approved", answer=text, source=source, now=self._clock.now()
        )
        log.info("kb.suggestion.approved", extra={"member_id": member_id, "suggestion_id": found.id})
        approved = await self._repo.get_suggestion(member_id, found.id)
        assert approved is not None
        return approved

    async def reject(self, member_id: str, suggestion_id: int) -> FaqSuggestion:
        found = await self._pending(member_id, suggestion_id)
        await self._repo.decide(
            found.id, status="rejected", answer=found.answer, source="", now=self._clock.now()
        )
        log.info("kb.suggestion.rejected", extra={"member_id": member_id, "suggestion_id": found.id})
        rejected = await self._repo.get_suggestion(member_id, found.id)
        assert rejected is not None
        return rejected

    async def _pending(self, member_id: str, suggestion_id: int) -> FaqSuggestion:
        found = await self._repo.get_suggestion(member_id, suggestion_id)
        if found is None:
            raise NotFound(f"no suggestion {suggestion_id} / подсказки {suggestion_id} нет")
        if found.status != "pending":
            raise BadRequest(f"suggestion {suggestion_id} is already {found.status} / подсказка уже решена")
        return found


def operator_answer(question: UnansweredQuestion, messages: Sequence[ChatMessage]) -> str:
    """What someone other than the customer, the bot and the system wrote after the question, up to the
    customer's next message after that reply."""
    parts: list[str] = []
    for m in sorted(messages, key=lambda m: m.id):
        if m.id <= question.message_id or m.author_id in (0, question.bot_id):
            continue
        if m.author_id == question.author_id:
            if parts:
                break
            continue
        if m.text.strip():
            parts.append(m.text.strip())
    return "\n".join(parts)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _write_faq(path: Path, ident: str, question: str, answer: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "question", "answer"])
        writer.writerow([ident, question, answer])
