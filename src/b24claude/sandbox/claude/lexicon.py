"""Crude, deterministic word handling for the emulator's brain: words, 5-letter stems, stop words.

A 5-character prefix is enough for Russian inflections to meet («доставка/доставки/доставку» → «доста»)
without a morphology dependency in the sandbox.
"""

from __future__ import annotations

import re

STEM_LENGTH = 5
_WORD = re.compile(r"[a-zа-я0-9]+")

STOP_WORDS = frozenset(
    """
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот
от меня еще нет о из ему теперь когда даже ну ли если уже или ни быть был него до вас вам ведь там потом
себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без чего раз тоже себе
под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
сейчас были куда зачем всех можно при об другой хоть после над больше тот через эти нас про всего них
какая много три эту моя свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю
между подскажите скажите пожалуйста хочу хотел хотела хотим нужно нужен нужна ваш ваша ваше ваши вашей
вашего какие каков мой моя мои мне меня наш наша наши узнать интересует есть ли это эта
the a an and or but is are was were be been to of in on at for with by from it its this that what how
when where which who whom can could would should will do does did i you we they he she my your our their
please tell me us there any get have has had about not no yes so if then than also just
""".split()
)

GREETING_WORDS = frozenset(
    """
привет приветствую здравствуйте здравствуй здрасте добрый доброе доброго день утро вечер ночи хай
hi hello hey good morning afternoon evening greetings
""".split()
)

THANKS_STEMS = ("спаси", "благо", "thank", "thx")
POLITE_WORDS = frozenset("большое огромное вам тебе вас всё все much very so lot you a".split())
ORDER_STEMS = frozenset({"заказ", "сделк", "стату", "стади", "order", "deal", "statu", "stage"})
HUMAN_STEMS = frozenset({"опера", "челов", "менед", "специ", "живым", "human", "opera", "agent", "manag"})
URGENT_STEMS = frozenset({"срочн", "немед", "быстр", "urgen", "asap", "immed"})
NEGATIVE_STEMS = frozenset(
    {
        "плохо",
        "ужасн",
        "недов",
        "жалоб",
        "безоб",
        "отвра",
        "разоч",
        "слома",
        "badly",
        "terri",
        "awful",
        "compl",
        "angry",
        "disap",
    }
)
POSITIVE_STEMS = frozenset(
    {"спаси", "отлич", "хорош", "благо", "супер", "рады", "thank", "great", "excel", "love", "happy"}
)

# English option words (as stems) → Russian stems that mean the same, for enum choices like
# "delivery" / "complaint" chosen from a Russian conversation.
SYNONYMS: dict[str, frozenset[str]] = {
    "deliv": frozenset({"доста", "курье", "отпра", "приве"}),
    "shipp": frozenset({"доста", "отпра"}),
    "price": frozenset({"цена", "цены", "цену", "стоим", "сколь", "прайс", "стоит"}),
    "prici": frozenset({"цена", "цены", "стоим", "прайс"}),
    "cost": frozenset({"стоим", "сколь", "стоит"}),
    "compl": NEGATIVE_STEMS,
    "refun": frozenset({"возвр", "верни", "верну"}),
    "retur": frozenset({"возвр", "верну"}),
    "order": frozenset({"заказ"}),
    "deal": frozenset({"сделк"}),
    "statu": frozenset({"стату", "стади"}),
    "payme": frozenset({"оплат", "плате", "счет", "карто"}),
    "invoi": frozenset({"счет"}),
    "human": HUMAN_STEMS,
    "opera": HUMAN_STEMS,
    "hando": HUMAN_STEMS,
    "trans": HUMAN_STEMS,
    "escal": HUMAN_STEMS,
    "negat": NEGATIVE_STEMS,
    "posit": POSITIVE_STEMS,
    "urgen": URGENT_STEMS,
    "high": URGENT_STEMS,
    "greet": frozenset({"приве", "здрав", "добры"}),
    "thank": frozenset({"спаси", "благо"}),
    "grati": frozenset({"спаси", "благо"}),
    "suppo": frozenset({"помог", "пробл", "слома", "ошибк", "работ"}),
    "techn": frozenset({"слома", "ошибк", "работ", "настр"}),
    "sales": frozenset({"купит", "покуп", "цена", "стоим", "приоб"}),
    "purch": frozenset({"купит", "покуп", "приоб"}),
    "quest": frozenset({"вопро", "как", "когда", "сколь"}),
}


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


_ENGLISH_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A 5-character prefix; English words lose a plural/tense ending first (costs → cost)."""
    if word.isascii() and word.isalpha() and len(word) > 3:
        for suffix in _ENGLISH_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    return word[:STEM_LENGTH]


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one- and two-letter words (numbers stay)."""
    return [w for w in words(text) if w not in STOP_WORDS and (len(w) >= 3 or w.isdigit())]


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def is_greeting_only(text: str) -> bool:
    found = words(text)
    return bool(found) and all(w in GREETING_WORDS or w in POLITE_WORDS for w in found)


def is_thanks_only(text: str) -> bool:
    found = words(text)
    if not found or not any(w.startswith(THANKS_STEMS) for w in found):
        return False
    return all(
        w.startswith(THANKS_STEMS) or w in POLITE_WORDS or w in GREETING_WORDS or w in STOP_WORDS
        for w in found
    )


def looks_english(text: str) -> bool:
    latin = len(re.findall(r"[a-zA-Z]", text))
    cyrillic = len(re.findall(r"[а-яА-ЯёЁ]", text))
    return latin > cyrillic
