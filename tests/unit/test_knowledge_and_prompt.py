from __future__ import annotations

from pathlib import Path

import b24claude.sandbox as sandbox_pkg
from b24claude.conversations.prompt import build_system_prompt
from b24claude.ports.bitrix import ClientCard, CrmRefs, DealInfo
from tests.unit.kb_support import open_kb

KB_DIR = Path(sandbox_pkg.__file__).parent / "data" / "knowledge"


async def test_inflected_russian_question_finds_the_right_passage() -> None:
    async with open_kb() as kb:
        await kb.service.add("m", [KB_DIR])
        top = await kb.search.search("m", "Сколько стоит доставку по Москве?")
        assert top and top[0].title == "Доставка" and top[0].source == "dostavka.md#Доставка"
        top = await kb.search.search("m", "какая гарантия на кофемашину")
        assert top[0].title == "Гарантия"
        assert await kb.search.search("m", "ну и ну") == []
        # a single common word among many is not a match
        assert await kb.search.search("m", "Можно ли перекрасить кофемашину в фирменный цвет нашего офиса?") == []


def test_prompt_has_tagged_sections_with_client_and_deals() -> None:
    card = ClientCard(
        refs=CrmRefs(contact_id=1),
        kind="contact",
        name="Анна Смирнова",
        first_name="Анна",
        company="ООО «Ромашка»",
        open_deals=(DealInfo(1, "Поставка", "Переговоры", 120000.0, "RUB"),),
    )
    p = build_system_prompt(persona="P", company="C", card=card, passages=[], language="ru")
    assert "<client>\nИмя: Анна Смирнова" in p
    assert "«Поставка» — стадия «Переговоры», 120 000 RUB" in p
    assert "<knowledge>" not in p and p.endswith("<language>ru</language>")
