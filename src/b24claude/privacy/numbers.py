"""Phones, bank cards, INN, SNILS, OGRN and passports: numbers, told apart by shape, checksum and context.

The text is cut into *runs*: digit groups joined by spaces, dashes, dots, brackets or slashes
("+7 (916) 123-45-67", "2200 1234 5678 9010", "4510 123456"). Every window of whole groups of a run
is classified on its own (so two phones written one after the other are two phones) and the best
windows win. A keyword before the number ("инн", "паспорт", "снилс"…) decides the type; a checksum
that fails under such a keyword means "not PII", never "some other type". Words of orders, parcels,
articles and money before it, or a unit after it, veto the context-free guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from b24claude.ports.privacy import PiiType
from b24claude.privacy import checksums as cs
from b24claude.privacy.candidates import SHAPE, STRONG, VALIDATED, Candidate
from b24claude.privacy.context import has_keyword, nearest_category, unit_after, window_before

_SP = r"[ \t\u00a0\u202f]"
_DASH = r"[\-\u2010-\u2015]"
_GAP = rf"(?:{_SP}{{1,2}}|{_SP}?(?:{_DASH}{_SP}?)?[()]{_SP}?(?:{_DASH}{_SP}?)?|{_SP}?(?:{_DASH}|[./]){_SP}?)"
_RUN = re.compile(
    rf"(?<![A-Za-z0-9_])(?<![A-Za-z0-9_][\-/])(?:\+{_SP}?)?(?:\({_SP}?)?\d+(?:{_GAP}\d+)*(?![A-Za-z0-9_])"
)
_DIGITS = re.compile(r"\d+")
_CATEGORIES = ("phone", "inn", "snils", "passport", "ogrn", "card", "anti")
# A passport written with words between series and number: "серия 4510 номер 123456", "45 10 № 123456".
_PASSPORT_WORDS = re.compile(
    r"(?:(?<![а-яё])(?:серия|сер\.?)\s*:?\s*)?(?<!\d)(\d{2}\s?\d{2})\s*,?\s*"
    r"(?:номер|ном\.?|№|n\s?o?\.?|н\.)\s*:?\s*(\d{6})(?!\d)",
    re.IGNORECASE,
)
# First digit of an OGRN (13: legal entities 1 and 5) and an OGRNIP (15: 3) without a keyword.
_OGRN_FIRST = {13: "15", 15: "3"}
# Lengths some type can have: local phone 7, foreign passport 9, …, card 19.
_MAX_DIGITS = 19
_MAX_GROUPS = 8  # "8 916 123 45 67" has five; nobody writes a number in nine pieces
_USEFUL_LENGTHS = frozenset({7, *range(9, _MAX_DIGITS + 1)})
# A phone keyword this close to an order word still wins; an order word this close vetoes a phone.
_NEAR = 15


@dataclass(frozen=True, slots=True)
class _Window:
    digits: str
    groups: tuple[int, ...]  # lengths
    seps: tuple[str, ...]
    start: int
    end: int
    plus: bool
    paren: bool

    @property
    def n(self) -> int:
        return len(self.digits)


def find_numbers(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    for run in _RUN.finditer(text):
        out.extend(_classify_run(text, run))
    for m in _PASSPORT_WORDS.finditer(text):
        if _passport_words_ok(text, m):
            # From the series digits on: the word "серия" before them stays (the labelling guide's span).
            out.append(Candidate("passport", m.start(1), m.end(), VALIDATED))
    return out


def _passport_words_ok(text: str, m: re.Match[str]) -> bool:
    if m.group(0)[:1].isalpha():  # "серия …"
        return True
    cat, _ = nearest_category(window_before(text, m.start()), _CATEGORIES)
    return cat != "anti"


def _classify_run(text: str, run: re.Match[str]) -> list[Candidate]:
    groups = list(_DIGITS.finditer(text, run.start(), run.end()))
    seps = [text[groups[k].end() : groups[k + 1].start()] for k in range(len(groups) - 1)]
    plus = text[run.start()] == "+"
    contexts: dict[int, _Context] = {}
    found: list[Candidate] = []
    for i in range(len(groups)):
        digits = ""
        for j in range(i, min(len(groups), i + _MAX_GROUPS)):
            if j > i and "/" in seps[j - 1]:
                break
            digits += groups[j].group()
            if len(digits) > _MAX_DIGITS:
                break
            if len(digits) not in _USEFUL_LENGTHS:
                continue
            window = _window(run, groups, seps, i, j, digits, plus=plus and i == 0)
            context = contexts.get(window.start)
            if context is None:
                context = contexts[window.start] = _context(text, window.start)
            cand = _classify(text, window, context)
            if cand is not None:
                found.append(cand)
    return _best(found)


@dataclass(frozen=True, slots=True)
class _Context:
    window: str  # the lower-cased words before the number (see context.window_before)
    category: str | None  # the nearest keyword's category
    distance: int  # characters between that keyword and the number


def _context(text: str, start: int) -> _Context:
    window = window_before(text, start)
    category, distance = nearest_category(window, _CATEGORIES)
    if category is None:
        # "нужен паспорт? у меня 4510123456": the number answers the question before it.
        asked = window_before(text, start, across_question=True)
        if asked != window:
            category, distance = nearest_category(asked, _CATEGORIES)
            window = asked
    return _Context(window, category, distance)


def _window(
    run: re.Match[str],
    groups: list[re.Match[str]],
    seps: list[str],
    i: int,
    j: int,
    digits: str,
    *,
    plus: bool,
) -> _Window:
    """Groups ``i..j`` of a run; a phone's "+" and "(" before the first digit belong to it."""
    if i == 0:
        before = run.group()[: groups[0].start() - run.start()]
        start = run.start()
    else:
        before = seps[i - 1]
        start = groups[i].start()
        if "(" in before:
            start = groups[i - 1].end() + before.index("(")
    inner = seps[i:j]
    return _Window(
        digits=digits,
        groups=tuple(len(g.group()) for g in groups[i : j + 1]),
        seps=tuple(inner),
        start=start,
        end=groups[j].end(),
        plus=plus,
        paren="(" in before or any("(" in s or ")" in s for s in inner),
    )


def _best(found: list[Candidate]) -> list[Candidate]:
    chosen: list[Candidate] = []
    for c in sorted(found, key=lambda c: (-c.priority, -c.length, c.start)):
        if all(c.end <= o.start or c.start >= o.end for o in chosen):
            chosen.append(c)
    return chosen


def _classify(text: str, w: _Window, context: _Context) -> Candidate | None:
    if unit_after(text, w.end):
        return None
    n, d = w.n, w.digits
    dotted = any("." in s for s in w.seps)
    contiguous = len(w.groups) == 1
    window, cat, dist = context.window, context.category, context.distance

    def cand(pii_type: PiiType, priority: int) -> Candidate:
        return Candidate(pii_type, w.start, w.end, priority)

    # A keyword names the type: the checksum alone decides.
    if cat == "inn" and n in (10, 12):
        return cand("inn", VALIDATED) if not dotted and cs.inn_valid(d) else None
    if cat == "snils" and n == 11:
        return cand("snils", VALIDATED) if cs.snils_valid(d) else None
    if cat == "ogrn" and n in (13, 15):
        return cand("ogrn", VALIDATED) if not dotted and cs.ogrn_valid(d) else None
    if cat == "passport" and n == 10 and not dotted:
        return cand("passport", VALIDATED)
    if cat == "passport" and n == 9 and (contiguous or w.groups == (2, 7)) and "загран" in window:
        return cand("passport", VALIDATED)
    if cat == "card" and 13 <= n <= 19 and _card_shape(w):
        return cand("card", VALIDATED) if cs.card_valid(d) else None

    anti = cat == "anti"
    if w.plus:
        if d[0] == "7":
            return cand("phone", STRONG) if n == 11 else None
        return cand("phone", STRONG) if 10 <= n <= 15 else None
    if n == 11 and w.groups == (3, 3, 3, 2) and not dotted and cs.snils_valid(d):
        return None if anti else cand("snils", VALIDATED)
    if n == 11 and d[0] in "78" and d[1] in "3456789" and _prefixed_phone_shape(w):
        if anti and (dist <= _NEAR or has_keyword(window[len(window) - dist :], "number")):
            return None  # "номер заказа 8916…", "заказ на сайте, номер 8916…"
        return cand("phone", STRONG)
    if n == 11 and w.groups in ((11,), (9, 2)) and not anti and cs.snils_valid(d):
        if not has_keyword(window, "sign") and not has_keyword(window, "number"):
            return cand("snils", VALIDATED)  # a SNILS written without its keyword (not "номер 1234…")
    if dotted:
        return None
    if n == 10:
        return _ten_digits(w, cat, window, cand)
    if n == 12 and contiguous and not anti and cs.inn_valid(d):
        return cand("inn", VALIDATED)
    if n in (13, 15) and contiguous and not anti and cs.ogrn_valid(d) and d[0] in _OGRN_FIRST[n]:
        return cand("ogrn", VALIDATED)
    if 13 <= n <= 19 and not anti and _card_shape(w) and cs.card_valid(d):
        return cand("card", VALIDATED)
    if n == 7 and cat == "phone" and w.groups in ((3, 2, 2), (3, 4), (7,)):
        return cand("phone", SHAPE)
    return None


def _ten_digits(
    w: _Window, cat: str | None, window: str, cand: Callable[[PiiType, int], Candidate]
) -> Candidate | None:
    d = w.digits
    anti = cat == "anti"
    if w.groups in ((4, 6), (2, 2, 6)):
        return None if anti else cand("passport", SHAPE)
    if cat == "phone" and d[0] in "3489":
        return cand("phone", STRONG)
    if d[0] == "9" and _bare_phone_shape(w):
        return None if anti or has_keyword(window, "sign") else cand("phone", SHAPE)
    if d[0] in "348" and (w.paren or w.groups == (3, 3, 2, 2)) and _bare_phone_shape(w):
        return None if anti else cand("phone", SHAPE)
    if len(w.groups) == 1 and cs.inn_valid(d) and not anti and not has_keyword(window, "sign"):
        if not has_keyword(window, "number"):
            return cand("inn", VALIDATED)
    return None


def _card_shape(w: _Window) -> bool:
    if any("." in s or "(" in s or ")" in s for s in w.seps):
        return False
    g = w.groups
    if len(g) == 1:
        return True
    if g in ((4, 6, 5), (4, 6, 4)):
        return True
    return len(g) >= 3 and all(x == 4 for x in g[:-1]) and 1 <= g[-1] <= 4


def _prefixed_phone_shape(w: _Window) -> bool:
    """ "8 916 …", "8916 …", "89161234567" — not "811-234-567 89" (the prefix glued to a short group)."""
    return w.groups[0] == 1 or w.groups[0] >= 4


def _bare_phone_shape(w: _Window) -> bool:
    return w.groups in ((10,), (3, 3, 2, 2), (3, 3, 4), (3, 7), (3, 2, 2, 3), (3, 3, 2, 2), (3, 2, 3, 2))
