"""The answer cache in the whole loop: a repeated opening question is answered without Claude, with the
asking client's own name; another question, a client whose CRM data went into the answer, and a
changed base all miss (what reached Claude is counted on the emulator)."""

from __future__ import annotations

from pathlib import Path

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import answer_requests


async def test_repeated_question_served_from_the_cache_never_across_clients_or_bases(
    stack: SandboxStack, tmp_path: Path
) -> None:
    assert stack.container is not None and stack.container.answer_cache is not None
    first = await stack.ask("Сколько стоит доставка по Москве?", "Тимур")
    assert "590" in first and "Тимур" in first  # the emulator greets by the (unmasked) name
    calls = len(answer_requests(stack))

    # The same question, worded otherwise, from another customer: served from the cache, their name in it.
    second = await stack.ask("Подскажите, пожалуйста: доставка по Москве — сколько стоит?", "Вера")
    assert len(answer_requests(stack)) == calls
    assert "590" in second and "Вера" in second and "Тимур" not in second

    # Another question: the model answers.
    third = await stack.ask("Сколько стоит доставка по России?", "Зоя")
    assert len(answer_requests(stack)) == calls + 1 and "Вера" not in third and "Тимур" not in third

    # A client whose CRM card carries deals: their answer is theirs, the portal's cached one is not served.
    await stack.ask("Сколько стоит доставка по Москве?", "anna")
    assert len(answer_requests(stack)) == calls + 2

    # The base changes (a document added): the cached answer is not served any more.
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "extra.md").write_text("# Подарочные карты\n\nПодарочная карта на 3000 рублей.\n", encoding="utf-8")
    await stack.container.kb.sync(stack.member_id, folder)
    fourth = await stack.ask("Сколько стоит доставка по Москве?", "Лев")
    assert len(answer_requests(stack)) == calls + 3 and "590" in fourth and "Лев" in fourth
    # ...and the new answer is the one cached from then on.
    await stack.ask("сколько стоит доставка по москве", "Нина")
    assert len(answer_requests(stack)) == calls + 3
