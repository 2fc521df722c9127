"""People's names in any case and either script: "передайте Ивановой Марии Петровне", "позвоните
Сергею", "меня зовут аня", "Иванов И.И.", "Anna Smirnova".

Words are read with pymorphy3 (first name, surname, patronymic, place — with its scores), grouped into
runs of adjacent name-like words, and a run is accepted when its parts make a name (a patronymic; a
first name with a surname; initials with a surname) or, for a single word, when it is an unambiguous
name or a cue announces it ("зовут", "спасибо,", "менеджер"). Words that are common nouns as well
(Вера, Роман, Любовь) need a capital inside a sentence or a cue; after street, place and company
words ("ул. Пушкина", "ТЦ Мария") and inside quotes nothing is a name.

The dictionary reads many surnames as places or plurals ("Орехова", "Кириллов"); a word spelled like a
regular surname (-ов/-ин/-ский/-ых in its cases, see morph.surname_shape) may therefore join a first
name or patronymic, never make a name alone. Titles ("господин", "уважаемая") announce a name and are
not part of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from b24claude.privacy import latin
from b24claude.privacy.candidates import WORDS, Candidate
from b24claude.privacy.lexicon import (
    ABBREVIATIONS,
    CAPITALISED_OK,
    GREETING_STEMS,
    GREETING_TAILS,
    MEDIUM_CUE_STEMS,
    MEDIUM_CUES,
    NOT_A_PERSON,
    PLACE_OR_BRAND_MARKERS,
    PLACE_PREPOSITIONS,
    SLANG_FIRST_NAMES,
    STREET_PREPOSITIONS,
    STREET_SURNAMES,
    STRONG_CUE_PAIRS,
    STRONG_CUES,
    TITLES,
)
from b24claude.privacy.morph import UNKNOWN, Morph, WordInfo

_TOKEN = re.compile(
    r"(?P<init>(?<![\w.])[А-ЯЁA-Z]\.(?:[ \u00a0]?[А-ЯЁA-Z]\.)?(?![а-яёa-z0-9]))"
    r"|(?P<linit>(?<![\w.])[а-яё]\.[ \u00a0]?[а-яё]\.(?![а-яёa-z0-9]))"
    r"|(?P<word>[А-Яа-яЁёA-Za-z]+(?:[\-'’][А-Яа-яЁёA-Za-z]+)*)"
    r"|(?P<num>\d+)"
    r"|(?P<punct>[^\s\w])"
)
_QUOTED = re.compile(r"«[^»\n]{0,80}»|\"[^\"\n]{0,80}\"|“[^”\n]{0,80}”|„[^“”\n]{0,80}[“”]")
_SENTENCE_END = frozenset(".!?…")
_SIGNATURE_AFTER = _SENTENCE_END | {","}
_CUE_GAP = frozenset(",:-—–")
_DOT_ABBREVIATIONS = frozenset(
    "ул г гор д пр пер пл наб ш им тел т е п с стр корп кв см др мкр обл р руб коп тыс млн шт ст просп б м ж "
    "св тов гр англ пос дер".split()
)
_MAX_PARTS = 4
# Lower-case abbreviations shaped like initials ("т.е.", "и т.д."): never initials.
_NOT_INITIALS = frozenset("т.е т.к т.д т.п т.ч и.о н.э с.г ч.т п.с р.с с.н з.ы м.б к.п д.р г.р".split())

# Thresholds on pymorphy3's score shares (see morph.WordInfo).
_FIRST_STRONG = 0.75
_FIRST_INITIAL = 0.5  # a capitalised first name opening a sentence, no cue ("Лена просила передать")
_FIRST_LOWER = 0.5  # a lower-case first name with no cue ("лена приедет в 5")
_FIRST_ANY = 0.04
_SURN_STRONG = 0.4
_SURN_ANY = 0.1
_PATR = 0.3
_SURN_ONLY = 0.9  # a lower-case word read only as a surname
_SURN_CUED_LOWER = 0.6  # a lower-case word read mostly as a surname, after a cue ("от петровой")
_ALL_CASES = frozenset({"nomn", "gent", "datv", "accs", "ablt", "loct"})
_GEOX = 0.5


@dataclass(slots=True)
class _Tok:
    kind: str  # "init", "word", "num", "punct"
    text: str
    start: int
    end: int
    lower: str = ""
    cap: bool = False
    allcaps: bool = False
    latin: bool = False
    info: WordInfo = field(default=UNKNOWN)

    @property
    def first_strong(self) -> bool:
        return self.info.first >= _FIRST_STRONG

    @property
    def surn_strong(self) -> bool:
        return self.info.surn >= _SURN_STRONG and self.info.geox < _GEOX

    @property
    def patr(self) -> bool:
        return self.info.patr >= _PATR

    @property
    def unknown(self) -> bool:
        return not self.info.known

    @property
    def shaped(self) -> bool:
        """Spelled like a regular surname ("Орехова", "Калинине") though the dictionary may read it as
        a place or a plural: it may join a name, never make one alone."""
        return bool(self.info.shape) and self.info.function < 0.5

    @property
    def in_dictionary_as_name(self) -> bool:
        i = self.info
        return i.first >= _FIRST_ANY or i.surn >= _SURN_ANY or i.patr >= _PATR

    @property
    def namelike(self) -> bool:
        return self.in_dictionary_as_name or self.shaped


class NameFinder:
    def __init__(self, morph: Morph) -> None:
        self._morph = morph

    def find(self, text: str) -> list[Candidate]:
        toks = self._tokens(text)
        quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
        out: list[Candidate] = []
        k = 0
        while k < len(toks):
            cue = _cue(toks, k)
            if not _part(toks[k], cue == "strong"):
                k += 1
                continue
            j = k + 1
            while (
                j < len(toks)
                and j - k < _MAX_PARTS
                and _adjacent(text, toks[j - 1], toks[j])
                and _part(toks[j], cue == "strong")
            ):
                j += 1
            for a, b in _accepted(toks, k, j, cue):
                start, end = toks[a].start, toks[b - 1].end
                if not any(qs <= start < qe for qs, qe in quoted):
                    out.append(Candidate("name", start, end, WORDS))
            k = j
        return out

    def _tokens(self, text: str) -> list[_Tok]:
        toks: list[_Tok] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or "punct"
            t = _Tok(kind, m.group(), m.start(), m.end())
            if kind == "word":
                t.lower = t.text.lower()
                t.cap = t.text[0].isupper()
                t.allcaps = len(t.text) > 1 and t.text.isupper()
                t.latin = t.text.isascii()
                t.info = self._word_info(t.lower, latin_script=t.latin)
            elif kind == "init":
                t.cap = True
            elif kind == "linit":
                # "а.п. вишневский": lower-case initials, a name only beside a surname (see _run_is_name)
                if t.text.replace(" ", "").replace("\u00a0", "").rstrip(".") in _NOT_INITIALS:
                    t.kind = "punct"
                else:
                    t.kind = "init"
            toks.append(t)
        return toks

    def _word_info(self, lower: str, *, latin_script: bool) -> WordInfo:
        if latin_script:
            return self._latin_info(lower)
        if lower in SLANG_FIRST_NAMES:
            return WordInfo(known=True, first=1.0)
        info = self._morph.info(lower)
        if not info.known and "ё" in lower:
            info = self._morph.info(lower.replace("ё", "е"))
        if info.known or "-" not in lower:
            return info
        parts = [self._morph.info(p) for p in lower.split("-") if p]
        return WordInfo(
            known=any(p.known for p in parts),
            first=max(p.first for p in parts),
            surn=max(p.surn for p in parts),
            patr=max(p.patr for p in parts),
            geox=max(p.geox for p in parts),
            function=min(p.function for p in parts),
        )

    def _latin_info(self, lower: str) -> WordInfo:
        base = self._morph.info(latin.to_cyrillic(lower))
        first = 1.0 if lower in latin.FIRST_NAMES else base.first
        surn = base.surn
        if lower in latin.SURNAMES or (len(lower) > 4 and latin.SURNAME_ENDINGS.search(lower)):
            surn = max(surn, 0.6)
        known = base.known or first > 0 or surn > 0
        return WordInfo(known=known, first=first, surn=surn, patr=base.patr, geox=base.geox)


def _adjacent(text: str, a: _Tok, b: _Tok) -> bool:
    gap = text[a.end : b.start]
    return (0 < len(gap) <= 2 and gap.isspace() and "\n" not in gap) or (gap == "" and a.kind == "init")


def _part(t: _Tok, after_strong_cue: bool) -> bool:
    """Whether the token can be part of a name run."""
    if t.kind == "init":
        return True
    if t.kind != "word" or len(t.text) < 2 or t.lower in ABBREVIATIONS or t.lower in latin.ENGLISH_WORDS:
        return False
    if t.lower in TITLES:
        return False
    if t.info.function >= 0.5 and not t.namelike:
        return False
    if t.namelike:
        return True
    if t.unknown:
        return t.cap or after_strong_cue
    return after_strong_cue and t.info.function < 0.5 and t.cap


def _prev_word(toks: list[_Tok], k: int) -> int | None:
    """Index of the word before token ``k`` in the same sentence, over commas, colons and dashes."""
    i = k - 1
    while i >= 0 and toks[i].kind == "punct" and toks[i].text in _CUE_GAP:
        i -= 1
    if i >= 0 and toks[i].kind == "word":
        return i
    return None


def _sentence_initial(toks: list[_Tok], k: int) -> bool:
    if k == 0:
        return True
    prev = toks[k - 1]
    if prev.kind == "punct" and prev.text in _SENTENCE_END:
        return not (k >= 2 and toks[k - 2].kind == "word" and toks[k - 2].lower in _DOT_ABBREVIATIONS)
    return prev.kind == "punct" and prev.text in '«"“(' and _sentence_initial(toks, k - 1)


def _cue(toks: list[_Tok], k: int) -> str | None:
    i = _prev_word(toks, k)
    if i is None:
        return None
    w1 = toks[i].lower
    j = _prev_word(toks, i)
    w2 = toks[j].lower if j is not None else None
    if w1 in STRONG_CUES or (w2, w1) in STRONG_CUE_PAIRS:
        return "strong"
    if w1 in ("это", "eto") and _opens_sentence(toks, i, w2):
        return "this"
    if w1 in GREETING_TAILS:
        return "medium" if w2 is not None and w2.startswith("добр") else None
    if w1 in MEDIUM_CUES or w1 in TITLES or w1.startswith(MEDIUM_CUE_STEMS):
        return "medium"
    return None


def _opens_sentence(toks: list[_Tok], i: int, prev: str | None) -> bool:
    """Whether the word ``i`` ("это") opens the message or a sentence, or follows a greeting
    ("привет, это Аня") — not "карта 2200… это мастеркард?"."""
    if prev is not None:
        return prev.startswith(
            ("привет", "здравств", "алло", "добр", "здрасьт", "privet", "zdravst", "hi", "hello")
        )
    j = i - 1
    while j >= 0 and toks[j].kind == "punct" and toks[j].text in _CUE_GAP:
        j -= 1
    return j < 0 or (toks[j].kind == "punct" and toks[j].text in _SENTENCE_END)


def _blocked(toks: list[_Tok], k: int) -> bool:
    """A run starting at ``k`` right after a street, place or company word."""
    i = k - 1
    if i >= 0 and toks[i].kind == "punct" and toks[i].text == ".":
        i -= 1
    if i >= 0 and toks[i].kind == "word" and toks[i].lower in PLACE_OR_BRAND_MARKERS:
        return True
    return False


def _accepted(toks: list[_Tok], a: int, b: int, cue: str | None) -> list[tuple[int, int]]:
    """The name spans (token index ranges) in the run ``toks[a:b]``."""
    if _blocked(toks, a):
        return []
    if b - a > 1 and _run_is_name(toks[a:b], cue):
        return [(a, b)]
    out: list[tuple[int, int]] = []
    for k in range(a, b):
        if _single_is_name(toks, k, cue if k == a else _cue(toks, k)):
            out.append((k, k + 1))
    return out


def _run_is_name(run: list[_Tok], cue: str | None) -> bool:
    words = [t for t in run if t.kind == "word"]
    inits = len(run) - len(words)
    if not words:
        return False
    if any(t.patr for t in words):
        return True
    if any(t.latin for t in words) and not inits:
        return _latin_run_is_name(words)
    if inits:
        if all(t.cap for t in words):
            return any(t.surn_strong or t.unknown or t.namelike for t in words)
        # "а.п. вишневский": lower-case initials with a lower-case surname
        lower_inits = all(not t.cap for t in words) and all(
            t.text[0].islower() for t in run if t.kind == "init"
        )
        return lower_inits and all(t.surn_strong or t.shaped for t in words)
    if cue == "strong":
        return any(t.namelike or t.unknown for t in words)
    if not _cases_agree(words):
        return False  # "Роман Толстого": a first name and another person's surname, not one name
    if len({t.cap for t in words}) > 1 and any(not t.in_dictionary_as_name for t in words):
        return False  # "мандарин Анне": a lower-case word is a surname by its spelling only beside its peers
    strong = [t for t in words if t.first_strong or t.surn_strong]
    if not strong and _first_and_surname(words):
        strong = words  # "Айдар Ахметов", "Артёме Калинине": both words are places elsewhere
    has_first = any(t.info.first >= _FIRST_ANY for t in words)
    has_surn = any(t.info.surn >= _SURN_ANY or t.shaped or (t.unknown and t.cap) for t in words)
    if not has_surn and not inits:
        return False  # first names side by side ("Рив Гош") are rarer than brands
    if all(t.cap for t in words):
        # Capitalised words: one sure part, and the others name-like or unknown ("Мария Шмыгайло").
        return bool(strong) and all(t.namelike or t.unknown for t in words)
    # Lower case: a first name and a surname, one of them sure ("вера иванова", "сергей петров").
    return bool(strong) and has_first and has_surn and all(t.namelike for t in words)


def _cases_agree(words: list[_Tok]) -> bool:
    """Whether the words that have name readings share a grammatical case."""
    common: frozenset[str] | None = None
    for t in words:
        cases = t.info.cases | t.info.shape if t.shaped else t.info.cases
        if t.latin or not cases:
            continue
        common = cases if common is None else common & cases
    return common is None or bool(common)


def _first_and_surname(words: list[_Tok]) -> bool:
    """Two capitalised words, one read as a first name and the other shaped like a surname or read as
    one: a person, whatever other readings the dictionary has for each."""
    if len(words) != 2 or not all(t.cap and t.lower not in NOT_A_PERSON for t in words):
        return False  # "Лада Калина" is a car
    a, b = words
    return any(
        x.info.first >= _FIRST_ANY and (y.shaped or y.info.surn >= _SURN_STRONG) for x, y in ((a, b), (b, a))
    )


def _latin_run_is_name(words: list[_Tok]) -> bool:
    """ "Ivan Petrov", "Smirnova Anna": a first name and a surname-like word, not a brand pair."""
    if len(words) < 2 or (words[0].lower, words[1].lower) in latin.BRAND_PAIRS:
        return False
    if not all(t.cap for t in words) and not all(
        t.info.first >= _FIRST_STRONG or t.surn_strong for t in words
    ):
        return False
    firsts = [t for t in words if t.info.first >= _FIRST_STRONG]
    surnames = [t for t in words if t.info.surn >= _SURN_STRONG and t not in firsts[:1]]
    return bool(firsts) and bool(surnames) and all(t.namelike for t in words)


def _single_is_name(toks: list[_Tok], k: int, cue: str | None) -> bool:
    t = toks[k]
    if t.kind != "word":
        return False
    info = t.info
    if _place_after_preposition(toks, k) or _street_after_preposition(toks, k):
        return False
    if t.patr:
        return not _after(toks, k, {"в", "во", "из"})  # "в Петровиче" is a DIY store
    if cue == "strong":
        return t.namelike or t.unknown or t.info.function < 0.5
    if cue == "this":  # "это Аня", "это Шмыгайло" — not "ЭТО МОДЕЛЬ", "это мастеркард"
        return t.namelike or (t.unknown and t.cap and not t.allcaps)
    if t.lower in ABBREVIATIONS or (t.allcaps and not (t.first_strong or t.surn_strong)):
        return False
    if t.latin:
        if cue == "medium" or _signature(toks, k):
            return info.first >= _FIRST_STRONG or info.surn >= _SURN_STRONG
        return False
    if _followed_by_number(toks, k) and info.first < _FIRST_STRONG:
        return False  # "Ленина 5"
    ambiguous = t.lower in NOT_A_PERSON
    initial = _sentence_initial(toks, k)
    if cue == "medium":
        if ambiguous and not t.cap and not _vocative(toks, k):
            return False  # "здравствуйте лада гранта сломалась"
        return info.first >= _FIRST_ANY or (t.surn_strong and (t.cap or info.surn >= _SURN_CUED_LOWER))
    if info.geox >= _GEOX and info.first < _FIRST_STRONG:
        return False
    if not t.cap:
        return _lower_case_name(toks, k, ambiguous)
    if _in_proper_phrase(toks, k):
        return False  # "Яндекс Маркет", "Снежная Королева", "Глория Джинс"
    if ambiguous and t.lower not in CAPITALISED_OK:
        return False
    if initial:
        if info.first >= _FIRST_INITIAL and not ambiguous and info.function < 0.3:
            return True
        if info.first >= _FIRST_ANY and _vocative(toks, k):
            return True
        return (
            t.surn_strong and not ambiguous and info.surn >= 0.6 and info.function < 0.2 and info.geox < 0.2
        )
    return info.first >= _FIRST_ANY or t.surn_strong


def _lower_case_name(toks: list[_Tok], k: int, ambiguous: bool) -> bool:
    """A lower-case word with no cue: "лена приедет в 5", "напишите о кузьмине" — not "мишка тедди"
    (a foreign indeclinable name), not "в черном цвете" (a noun after its adjective)."""
    t, info = toks[k], toks[k].info
    if ambiguous or info.function >= 0.3 or len(t.text) <= 2 or _after_adjective(toks, k):
        return False
    if info.first >= _FIRST_LOWER:
        return info.cases != _ALL_CASES
    # A word the dictionary knows only as a surname ("кузьмине", "петровой").
    return info.known and info.surn >= _SURN_ONLY and info.geox < 0.1 and info.first < _FIRST_ANY


def _after_adjective(toks: list[_Tok], k: int) -> bool:
    prev = toks[k - 1] if k else None
    return prev is not None and prev.kind == "word" and not prev.cap and prev.info.adjective >= 0.5


def _signature(toks: list[_Tok], k: int) -> bool:
    """The word alone at the end of the message after a sentence end or comma ("thanks! Ulyana")."""
    if k == 0 or toks[k - 1].kind != "punct" or toks[k - 1].text not in _SIGNATURE_AFTER:
        return False
    return all(t.kind == "punct" for t in toks[k + 1 :])


def _in_proper_phrase(toks: list[_Tok], k: int) -> bool:
    """Whether the word stands next to a capitalised word that is not a name nor a verb or cue: a
    brand or a title, not a person."""
    for step in (-1, 1):
        i = k + step
        if 0 <= i < len(toks) and toks[i].lower == "и":
            i += step  # "Мастер и Маргарита", "Маша и Медведь"
        if not 0 <= i < len(toks):
            continue
        other = toks[i]
        a, b = (other, toks[k]) if i < k else (toks[k], other)
        if other.kind != "word" or not other.cap or (b.start - a.end != 1 and abs(i - k) == 1):
            continue
        if other.namelike or other.info.function >= 0.5 or other.allcaps or _is_greeting(other.lower):
            continue
        if i < k and _cue(toks, k) is not None:
            continue
        return True
    return False


def _is_greeting(word: str) -> bool:
    return word.startswith(GREETING_STEMS)


def _vocative(toks: list[_Tok], k: int) -> bool:
    """ "Вера, добрый день" — an ambiguous name addressed at the start of a message; not "Роман,
    который я заказывал" (a relative clause after a noun)."""
    if not (k + 1 < len(toks) and toks[k + 1].kind == "punct" and toks[k + 1].text in ",!"):
        return False
    return not (k + 2 < len(toks) and toks[k + 2].lower.startswith("котор"))


def _followed_by_number(toks: list[_Tok], k: int) -> bool:
    """Followed by a house number ("Ленина 5"), not by a phone."""
    nxt = k + 1
    if nxt < len(toks) and toks[nxt].kind == "punct" and toks[nxt].text == ",":
        nxt += 1
    return nxt < len(toks) and toks[nxt].kind == "num" and len(toks[nxt].text) <= 4


def _street_after_preposition(toks: list[_Tok], k: int) -> bool:
    """ "на Ленина", "угол Пушкина": a street named after someone."""
    if toks[k].lower not in STREET_SURNAMES or k == 0:
        return False
    prev = toks[k - 1]
    return prev.kind == "word" and prev.lower in STREET_PREPOSITIONS


def _after(toks: list[_Tok], k: int, words: set[str]) -> bool:
    return k > 0 and toks[k - 1].kind == "word" and toks[k - 1].lower in words


def _place_after_preposition(toks: list[_Tok], k: int) -> bool:
    t = toks[k]
    if t.info.geox < 0.1 or k == 0:
        return False
    prev = toks[k - 1]
    return prev.kind == "word" and prev.lower in PLACE_PREPOSITIONS
