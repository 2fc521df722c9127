"""Text helpers for Russian and English: crude stems good enough for keyword overlap."""

from __future__ import annotations

import re

_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
STOP_WORDS = frozenset(
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот "
    "от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять "
    "уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без "
    "будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти "
    "мой тем чтоб нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше "
    "тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше "
    "чуть том нельзя такой им более всегда конечно всю между здравствуйте добрый день подскажите пожалуйста "
    "the a an and or of to in is are be for on with what how can you your i we it this that do does".split()
)


def words(text: str) -> list[str]:
    return [w.lower().replace("ё", "е") for w in _WORD.findall(text)]


def stem(word: str, size: int = 5) -> str:
    """A crude stem: the first ``size`` letters, enough to match Russian inflections of one word."""
    return word[:size]


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 2}


def language_of(text: str, default: str) -> str:
    """The customer's language from their own words: Cyrillic → ru, Latin only → en."""
    if re.search("[а-яёА-ЯЁ]", text):
        return "ru"
    if re.search("[a-zA-Z]{2,}", text):
        return "en"
    return default
