"""The knowledge base in the whole loop: grounded answers with stored citations, a re-synced document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text

from b24claude.cli.stack import SandboxStack


async def _last_citations(stack: SandboxStack, *, turns: int) -> list[str]:
    """The citations of the newest assistant turn, once ``turns`` of them are stored.

    The reply reaches the customer before its turn is committed (send first, then record), so a
    read right after the reply appears can race the commit on a loaded machine: wait for it.
    """
    assert stack.container is not None
    deadline = asyncio.get_running_loop().time() + 15.0
    while True:
        async with stack.container.store.engine.connect() as conn:
            count = (
                await conn.execute(text("SELECT count(*) FROM dialogue_turns WHERE role = 'assistant'"))
            ).scalar()
            if count is not None and count >= turns:
                rows = await conn.execute(
                    text(
                        "SELECT citations FROM dialogue_turns WHERE role = 'assistant' ORDER BY seq DESC LIMIT 1"
                    )
                )
                value = rows.scalar()
                return list((json.loads(value) if isinstance(value, str) else value) or [])
        assert asyncio.get_running_loop().time() < deadline, f"{turns} assistant turns never stored"
        await asyncio.sleep(0.05)


async def test_the_english_warranty_question_is_answered_from_the_base_with_its_citation(
    stack: SandboxStack,
) -> None:
    reply = await stack.ask("Hi! What is the warranty on coffee machines?", "stranger")
    assert "24 месяца" in reply
    assert "[k" not in reply  # citation markers are stored with the turn, not shown to the customer
    assert await _last_citations(stack, turns=1) == ["vozvrat.md#Гарантия"]
    call = [r for r in stack.claude.requests if r.path == "/v1/messages"][-1]
    blocks = call.body["system"]
    knowledge = [b for b in blocks if b["text"].startswith("<knowledge>")]
    assert len(knowledge) == 1 and knowledge[0].get("cache_control") == {"type": "ephemeral"}
    assert 'source="vozvrat.md#Гарантия"' in knowledge[0]["text"]


async def test_a_question_the_base_cannot_answer_is_declined_with_a_specialist(stack: SandboxStack) -> None:
    reply = await stack.ask("Вы продаёте лодочные моторы?", "stranger")
    assert "В базе знаний нет ответа" in reply and "специалист" in reply
    assert await _last_citations(stack, turns=1) == []
    call = [r for r in stack.claude.requests if r.path == "/v1/messages"][-1]
    assert not any(b["text"].startswith("<knowledge>") for b in call.body["system"])


async def test_a_document_re_synced_mid_conversation_gives_the_new_answer(
    stack: SandboxStack, tmp_path: Path
) -> None:
    assert stack.container is not None
    kb = stack.container.kb
    folder = tmp_path / "base"
    folder.mkdir()
    doc = folder / "gyro.md"
    doc.write_text(
        "# Аренда гироскутера\n\nАренда гироскутера стоит 1111 рублей в сутки.\n", encoding="utf-8"
    )
    await kb.sync(stack.member_id, folder)
    first = await stack.ask("Сколько стоит аренда гироскутера?", "olga")
    assert "1111" in first

    doc.write_text("# Аренда гироскутера\n\nАренда гироскутера стоит 2222 рубля в сутки.\n", encoding="utf-8")
    [outcome] = await kb.sync(stack.member_id, folder)
    assert outcome.status == "replaced"
    second = await stack.ask("А сколько теперь стоит аренда гироскутера?", "olga")
    assert "2222" in second and "1111" not in second
    assert await _last_citations(stack, turns=2) == ["gyro.md#Аренда гироскутера"]
