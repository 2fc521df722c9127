"""Words and their lemmas (pymorphy3), cached per word form: what BM25 and the vectors see.

"доставки", "доставкой", "ДОСТАВКУ" all become "доставка"; Latin words are lower-cased with a crude
English plural strip. The analyser loads once per :class:`Lemmatiser` (~0.15 s).
"""

from __future__ import annotations

import functools
import re

import pymorphy3  # type: ignore[import-untyped]

from b24claude.kit.text import STOP_WORDS

_WORD = re.compile(r"[0-9a-zа-яё]+(?:-[0-9a-zа-яё]+)*", re.IGNORECASE)
_CYRILLIC = re.compile("[а-яё]")
_CACHE = 200_000
# Content-free words of support chats, beyond the general stop list.
EXTRA_STOP = frozenset(
    "привет здравствуй спасибо пожалуйста подсказать сказать скажите подскажите хотеть хотел хотела "
    "вопрос ваш наш это весь свой который такой какой мочь можно нужно надо очень просто вообще "
    "ребята добрый день вечер утро слушать извинить please hello hi thanks thank tell me my our us "
    "there does did will would could should have has сколько как-то вроде типа короче блин оформить "
    "сделать узнать".split()
)
# Verbs and adjectives folded into the noun a support base is written around, on both sides (passages
# and questions): "вернуть" finds "возврат", "стоит" finds "стоимость".
NORMAL: dict[str, str] = {
    "стоить": "стоимость",
    "вернуть": "возврат",
    "возвращать": "возврат",
    "оплачивать": "оплата",
    "оплатить": "оплата",
    "доставить": "доставка",
    "доставлять": "доставка",
    "гарантийный": "гарантия",
    "починить": "ремонт",
    "чинить": "ремонт",
    "отремонтировать": "ремонт",
    "ремонтировать": "ремонт",
    "обменять": "обмен",
    "обменивать": "обмен",
    "заказать": "заказ",
    "заказывать": "заказ",
    "арендовать": "аренда",
    "взять": "взять",
    "бесплатный": "бесплатно",
    "платный": "стоимость",
    "зимой": "зима",
    "зимний": "зима",
    "позвонить": "телефон",
    "звонить": "телефон",
    "звонок": "телефон",
    "работать": "работа",
    "отменить": "отмена",
    "отменять": "отмена",
    "зарядить": "зарядка",
    "заряжать": "зарядка",
}


def words(text: str) -> list[str]:
    return [w.lower().replace("ё", "е") for w in _WORD.findall(text)]


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.search(word))


class Lemmatiser:
    def __init__(self) -> None:
        self._morph = pymorphy3.MorphAnalyzer()
        self.lemma = functools.lru_cache(maxsize=_CACHE)(self._lemma)
        self.known = functools.lru_cache(maxsize=_CACHE)(self._known)

    def _lemma(self, word: str) -> str:
        if not is_cyrillic(word):
            if len(word) > 4 and word.endswith("ies"):
                return word[:-3] + "y"
            if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                return word[:-1]
            return word
        parses = self._morph.parse(word)
        lemma = str(parses[0].normal_form).replace("ё", "е") if parses else word
        return NORMAL.get(lemma, lemma)

    def _known(self, word: str) -> bool:
        """A dictionary word of Russian (not guessed from its ending)."""
        return bool(self._morph.word_is_known(word))

    def lemmas(self, text: str, *, keep_stop: bool = False) -> list[str]:
        out: list[str] = []
        for w in words(text):
            if not keep_stop and (w in STOP_WORDS or len(w) < 2):
                continue
            lemma = self.lemma(w)
            if keep_stop or (lemma not in STOP_WORDS and lemma not in EXTRA_STOP):
                out.append(lemma)
        return out
