"""The answer cache's rules: which questions are the same, and the hits it must never make (another
question, another client's data, a changed base, a reply carrying a client's value)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from b24claude.adapters.memory import MemoryCache
from b24claude.knowledge.lemmas import Lemmatiser
from b24claude.usage.answer_cache import AnswerCache, AnswerContext

M = "portal.example"
Q = "Сколько стоит доставка по Москве?"
REPLY = "Здравствуйте, [ИМЯ_1]! Доставка по Москве — 590 рублей."


class Versions:
    """The base's version stamp as the knowledge search reports it (bumped by a document change)."""

    def __init__(self) -> None:
        self.generation = 1

    async def __call__(self, member_id: str) -> str:
        return f"{self.generation}.1"


@pytest.fixture
def versions() -> Versions:
    return Versions()


@pytest.fixture
def cache(versions: Versions) -> AnswerCache:
    lemmatiser = Lemmatiser()
    return AnswerCache(
        cache=MemoryCache(), terms=lambda t: lemmatiser.lemmas(t, keep_stop=True), kb_version=versions
    )


def ctx(client: str = "1", name: str = "[ИМЯ_1]", data: str = "") -> AnswerContext:
    return AnswerContext(
        member_id=M, language="ru", head_digest="head", bot_spoke=False, client_id=client, client_data=data,
        author_name=name,
    )


async def store(cache: AnswerCache, question: str = Q, c: AnswerContext | None = None, reply: str = REPLY) -> bool:
    return await cache.store(
        question, c or ctx(), reply=reply, citations=["dostavka.md#Доставка"], model="m", origin="d1"
    )


async def test_the_same_question_hits_exactly_and_by_lemmas_with_the_askers_name(cache: AnswerCache) -> None:
    assert await store(cache)
    exact = await cache.lookup("сколько стоит доставка по москве", ctx("2", "[ИМЯ_3]"))
    assert exact is not None and exact.kind == "exact"
    assert exact.text == "Здравствуйте, [ИМЯ_3]! Доставка по Москве — 590 рублей."  # the asker's own name
    reworded = await cache.lookup("Здравствуйте! Подскажите, пожалуйста, доставка по Москве сколько стоит", ctx("3"))
    assert reworded is not None and reworded.kind == "semantic" and reworded.citations == ("dostavka.md#Доставка",)


@pytest.mark.parametrize(
    "other",
    [
        "Сколько стоит доставка по России?",
        "Сколько стоит доставка в Москве за МКАД?",
        "Сколько стоит сборка?",
        "Сколько?",
    ],
)
async def test_another_question_misses(cache: AnswerCache, other: str) -> None:
    assert await store(cache)
    assert await cache.lookup(other, ctx("2")) is None


async def test_a_negation_or_a_preposition_makes_another_question(cache: AnswerCache) -> None:
    assert await store(cache, "Можно вернуть велосипед без чека?", reply="Да, по паспорту.")
    assert await cache.lookup("Можно вернуть велосипед с чеком?", ctx("2")) is None
    assert await cache.lookup("Нельзя вернуть велосипед без чека?", ctx("2")) is None
    assert await cache.lookup("можно ли вернуть велосипед без чека", ctx("2")) is not None


async def test_an_answer_made_with_a_clients_crm_data_is_that_clients_only(cache: AnswerCache) -> None:
    anna = ctx("7", data="deal «Stels 700», stage NEW")
    assert await store(cache, c=anna)
    assert await cache.lookup(Q, ctx("8")) is None  # another client without data: not the portal's answer
    assert await cache.lookup(Q, ctx("8", data="deal «Stels 700», stage NEW")) is None  # another client
    assert await cache.lookup(Q, replace(anna, client_data="deal «Stels 700», stage WON")) is None  # changed
    assert await cache.lookup(Q, anna) is not None  # the same client, the same card


async def test_a_changed_base_misses(cache: AnswerCache, versions: Versions) -> None:
    assert await store(cache)
    versions.generation += 1
    assert await cache.lookup(Q, ctx("2")) is None


async def test_the_language_the_persona_and_an_earlier_reply_are_part_of_the_key(cache: AnswerCache) -> None:
    assert await store(cache)
    assert await cache.lookup(Q, replace(ctx("2"), language="en")) is None
    assert await cache.lookup(Q, replace(ctx("2"), head_digest="another persona")) is None
    assert await cache.lookup(Q, replace(ctx("2"), bot_spoke=True)) is None


async def test_a_reply_or_a_question_with_a_clients_value_is_not_cached(cache: AnswerCache) -> None:
    assert not await store(cache, reply="Перезвоним на [ТЕЛЕФОН_1]. Доставка — 590 рублей.")
    assert not await store(cache, "Доставка на [АДРЕС_1] сколько стоит?")
    assert await cache.lookup(Q, ctx("2")) is None
    # The portal does not mask names: the real name is a slot too, never served to another client.
    assert await store(cache, c=ctx("1", "Анна"), reply="Здравствуйте, Анна! Доставка — 590 рублей.")
    served = await cache.lookup(Q, ctx("2", "Борис"))
    assert served is not None and served.text == "Здравствуйте, Борис! Доставка — 590 рублей."
    assert await cache.lookup(Q, ctx("3", "")) is None  # no name to greet with: not served
