"""Reversible per-dialogue pseudonymisation over the real detector and a real (SQLite) vault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from b24claude.adapters.sql import SqlStore
from b24claude.ports.bitrix import ClientCard, CrmRefs, DealInfo
from b24claude.ports.privacy import PII_TYPES
from b24claude.privacy.detect import PiiDetector
from b24claude.privacy.pseudonymise import Pseudonymiser, placeholders_in, type_of

ALL = frozenset(PII_TYPES)


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/p.db")
    yield s
    await s.close()


@pytest.fixture
def pseudo(detector: PiiDetector, store: SqlStore) -> Pseudonymiser:
    return Pseudonymiser(detector=detector, vault=store.vault)


async def test_same_value_same_placeholder_across_messages_formats_and_restarts(
    pseudo: Pseudonymiser, detector: PiiDetector, store: SqlStore
) -> None:
    m = await pseudo.open("p1", "p1:dlg:1", ALL)
    a = m.mask("мой телефон +7 (916) 123-45-67, почта Anna@Mail.ru")
    b = m.mask("повторю: 89161234567 и anna@mail.ru")
    assert a == "мой телефон [ТЕЛЕФОН_1], почта [EMAIL_1]"
    assert b == "повторю: [ТЕЛЕФОН_1] и [EMAIL_1]"
    await m.save()

    again = await Pseudonymiser(detector=detector, vault=store.vault).open("p1", "p1:dlg:1", ALL)
    assert again.mask("второй номер 8 903 765-43-21") == "второй номер [ТЕЛЕФОН_2]"
    assert again.unmask("Перезвоним на [ТЕЛЕФОН_1] или [ТЕЛЕФОН_2]") == (
        "Перезвоним на +7 (916) 123-45-67 или 8 903 765-43-21"
    )


async def test_dialogues_and_portals_never_share_placeholders(pseudo: Pseudonymiser) -> None:
    one = await pseudo.open("p1", "p1:dlg:1", ALL)
    one.mask("+7 916 123-45-67")
    await one.save()
    other = await pseudo.open("p1", "p1:dlg:2", ALL)
    assert other.unmask("[ТЕЛЕФОН_1]") == "(скрыто)"  # a label the dialogue never had is not guessed
    assert other.unmask("[ТЕЛЕФОН_1]", language="en") == "(hidden)"
    foreign = await pseudo.open("p2", "p1:dlg:1", ALL)
    assert foreign.value_of("[ТЕЛЕФОН_1]") is None


async def test_only_the_policy_types_are_masked(pseudo: Pseudonymiser) -> None:
    m = await pseudo.open("p1", "d", frozenset({"passport"}))
    out = m.mask("паспорт 4510 123456, телефон +7 916 123-45-67")
    assert out == "паспорт [ПАСПОРТ_1], телефон +7 916 123-45-67"
    none = await pseudo.open("p1", "d2", frozenset())
    assert none.mask("телефон +7 916 123-45-67") == "телефон +7 916 123-45-67"


async def test_card_is_masked_word_by_word_and_restorable(pseudo: Pseudonymiser) -> None:
    m = await pseudo.open("p1", "d", ALL)
    card = ClientCard(
        refs=CrmRefs(contact_id=5),
        kind="contact",
        name="Анна Смирнова",
        first_name="Анна",
        company="ООО Ромашка",
        phones=("+7 (916) 123-45-67",),
        emails=("anna.smirnova@mail.ru",),
        open_deals=(DealInfo(id=1, title="Поставка для Смирновой Анны", stage="NEW"),),
    )
    masked = m.mask_card(card)
    assert masked.name == "[ИМЯ_1] [ИМЯ_2]" and masked.first_name == "[ИМЯ_1]"
    assert masked.phones == ("[ТЕЛЕФОН_1]",) and masked.emails == ("[EMAIL_1]",)
    assert "Смирнов" not in masked.open_deals[0].title
    assert masked.company == "ООО Ромашка"
    assert m.unmask(f"Здравствуйте, {masked.first_name}!") == "Здравствуйте, Анна!"
    assert [type_of(p) for p in placeholders_in(masked.name)] == ["name", "name"]


async def test_a_name_that_is_also_a_word_is_masked_in_the_clients_own_lead_title(
    pseudo: Pseudonymiser,
) -> None:
    # "Вера" is a name and a noun: the detector leaves it in free text, but an Open Lines lead title
    # names the card's own client.
    m = await pseudo.open("p1", "d-vera", ALL)
    card = ClientCard(
        refs=CrmRefs(lead_id=9),
        kind="lead",
        name="Вера",
        first_name="Вера",
        open_deals=(DealInfo(id=9, title="Вера - Онлайн-чат на сайте", stage="NEW"),),
        extra={"Название лида": "Вера - Онлайн-чат на сайте", "Источник": "Вера в успех"},
    )
    masked = m.mask_card(card)
    assert masked.open_deals[0].title == "[ИМЯ_1] - Онлайн-чат на сайте"
    assert masked.extra["Название лида"] == "[ИМЯ_1] - Онлайн-чат на сайте"
    assert "Вера" not in " ".join(masked.extra.values())  # the word stands for her here too: masked
    assert m.unmask(masked.open_deals[0].title) == "Вера - Онлайн-чат на сайте"
    other = await pseudo.open("p1", "d-other", ALL)  # no name held: the word is left alone
    assert other.mask_known_names("Вера в успех") == "Вера в успех"
