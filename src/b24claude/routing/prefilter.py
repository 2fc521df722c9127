"""Rules that answer without Claude (DESIGN.md §2 step 2): greetings, thanks, spam, a request for a human.

Why inside ``routing/``: a prefilter rule decides who answers — a canned text, a human, or the bot —
which is routing's decision; it shares the handoff path and the per-portal settings
(``Portal.settings["routing"]``), and domains may not import each other.

Requests for a human are matched on words with one typo allowed ("аператор", "опертор", "челавек"),
slang ("живой кто-нибудь", "кожаный") and English; a bare "человек" needs an ask beside it ("на 5 человек"
is not a request).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from b24claude.routing.schemas import WorkingHours

Intent = Literal["human", "greeting", "thanks", "spam"]

_WORD = re.compile(r"[a-zа-яё]+", re.IGNORECASE)
_LINK = re.compile(r"https?://|www\.|t\.me/", re.IGNORECASE)

_HUMAN_STRONG = ("оператор", "оператора", "оператору", "оператором", "operator", "кожаный", "кожаного")
_HUMAN_WEAK = (
    "человек",
    "человека",
    "человеком",
    "менеджер",
    "менеджера",
    "менеджером",
    "специалист",
    "специалиста",
    "специалистом",
    "сотрудник",
    "сотрудника",
    "human",
    "person",
    "agent",
)
_ASK = (
    "позовите",
    "позови",
    "позвать",
    "соедините",
    "соедини",
    "переключите",
    "переведите",
    "хочу",
    "нужен",
    "нужна",
    "дайте",
    "живой",
    "живого",
    "живым",
    "реальный",
    "реального",
    "настоящий",
    "можно",
    "talk",
    "speak",
    "real",
    "live",
    "want",
    "need",
    "connect",
)
_GREETING = frozenset(
    "привет приветик здравствуйте здравствуй здрасте здрасьте добрый доброе доброго день утро вечер времени "
    "суток салют хай hi hello hey good morning afternoon evening".split()
)
_THANKS = frozenset(
    "спасибо спасиб спс благодарю благодарим большое огромное ок окей хорошо понятно thanks thank you thx "
    "ty ok okay great".split()
)
_THANK_CORE = frozenset("спасибо спасиб спс благодарю благодарим thanks thank thx ty".split())
_SPAM = frozenset(
    "казино casino ставки букмекер заработок заработать крипта криптовалюта bitcoin биткоин инвестиции "
    "промокод раскрутка продвижение подписчиков лайков".split()
)


def has_words(text: str) -> bool:
    """Whether the customer wrote anything in words (not only a file, an emoji or punctuation)."""
    return bool(_WORD.search(text))


def intent_of(text: str) -> Intent | None:
    """What a rule can answer, or ``None`` (the message goes on to the model)."""
    words = [w.lower().replace("ё", "е") for w in _WORD.findall(text)]
    if not words:
        return None
    if _asks_for_human(words):
        return "human"
    if _is_spam(text, words):
        return "spam"
    if len(words) <= 6:
        if all(w in _GREETING for w in words):
            return "greeting"
        if any(w in _THANK_CORE for w in words) and all(w in _THANKS or w in _GREETING for w in words):
            return "thanks"
    return None


def _asks_for_human(words: list[str]) -> bool:
    if any(_near(w, _HUMAN_STRONG) for w in words):
        return True
    if any(_near(w, _HUMAN_WEAK) for w in words):
        return len(words) <= 2 or any(_near(w, _ASK) for w in words)
    return False


def _is_spam(text: str, words: list[str]) -> bool:
    links = len(_LINK.findall(text))
    bait = sum(1 for w in words if w in _SPAM)
    return links >= 2 or (links > 0 and bait > 0) or bait >= 2


def _near(word: str, vocabulary: tuple[str, ...]) -> bool:
    """Equal, or one edit away for words of 6+ letters (a typo)."""
    for v in vocabulary:
        if word == v:
            return True
        if len(v) >= 6 and abs(len(word) - len(v)) <= 1 and _one_edit(word, v):
            return True
    return False


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    if len(a) > len(b):
        a, b = b, a
    i = j = 0
    skipped = False
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            if skipped:
                return False
            skipped = True
            j += 1
            continue
        i += 1
        j += 1
    return True


def is_open(hours: WorkingHours | None, now: float) -> bool:
    """Whether the line's operators work at ``now`` (a Unix time)."""
    if hours is None:
        return True
    local = datetime.fromtimestamp(now, UTC) + timedelta(hours=hours.utc_offset_h)
    minute = local.hour * 60 + local.minute
    return local.isoweekday() in hours.days and hours.start_min <= minute < hours.end_min
