"""What pymorphy3 says about a word, reduced to what name detection needs, cached per word form.

The analyser is loaded once per :class:`Morph` (about 0.15 s and 15 MB); a detector owns one and
shares it between its recognisers. Parsing a new word form takes ~0.1 ms, a cached one ~1 µs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import pymorphy3  # type: ignore[import-untyped]

_FUNCTION_POS = frozenset(
    {"PREP", "CONJ", "PRCL", "NPRO", "INTJ", "PRED", "ADVB", "VERB", "INFN", "COMP", "NUMR"}
)
_ADJECTIVE_POS = frozenset({"ADJF", "PRTF"})
_CACHE_SIZE = 200_000
_GUESS_MIN = 0.8
_CASE_SHARE = 0.15
_FIXED_SHARE = 0.3
_ALL_CASES = frozenset({"nomn", "gent", "datv", "accs", "ablt", "loct"})
# Second genitive, second accusative and second locative read as the main ones; vocative "Саш" as nominative.
_CASE_FAMILY = {"gen2": "gent", "acc2": "accs", "loc2": "loct", "voct": "nomn"}
_GUESSED_SURNAME = 0.3


@dataclass(frozen=True, slots=True)
class WordInfo:
    """Shares (0..1) of the word's parses, by pymorphy3's scores."""

    known: bool  # in the dictionary (not guessed from its ending)
    first: float = 0.0  # a first name (Name), diminutives included
    surn: float = 0.0  # a surname (Surn)
    patr: float = 0.0  # a patronymic (Patr)
    geox: float = 0.0  # a place (Geox)
    function: float = 0.0  # a verb, adverb, pronoun, preposition, particle…
    adjective: float = 0.0  # an adjective or participle ("черном", "новый")
    cases: frozenset[str] = frozenset()  # grammatical cases of its name readings ("nomn", "datv"…)
    # The cases the word would have as a surname of a regular paradigm (-ов/-ин/-ский/-ых), whatever
    # the dictionary says: "Орехова", "Кириллов", "Калинине" are also places or plurals there.
    shape: frozenset[str] = frozenset()

    @property
    def namelike(self) -> float:
        return self.first + self.surn + self.patr


UNKNOWN = WordInfo(known=False)


_NOM, _GEN, _DAT, _ACC, _INS, _LOC = "nomn", "gent", "datv", "accs", "ablt", "loct"
# Endings of the regular surname paradigms and the cases they spell (masculine and feminine together).
_SURNAME_ENDINGS: tuple[tuple[str, frozenset[str]], ...] = (
    ("(?:ов|ев|ёв|ин|ын)", frozenset({_NOM})),
    ("(?:ова|ева|ёва|ина|ына)", frozenset({_NOM, _GEN, _ACC})),
    ("(?:ову|еву|ёву|ину|ыну)", frozenset({_DAT, _ACC})),
    ("(?:овым|евым|ёвым|иным|ыным)", frozenset({_INS})),
    ("(?:ове|еве|ёве|ине|ыне)", frozenset({_LOC})),
    ("(?:овой|евой|ёвой|иной|ыной)", frozenset({_GEN, _DAT, _INS, _LOC})),
    ("[сц]кий", frozenset({_NOM})),
    ("[сц]кого", frozenset({_GEN, _ACC})),
    ("[сц]кому", frozenset({_DAT})),
    ("[сц]ким", frozenset({_INS})),
    ("[сц]ком", frozenset({_LOC})),
    ("[сц]кая", frozenset({_NOM})),
    ("[сц]кой", frozenset({_NOM, _GEN, _DAT, _INS, _LOC})),  # Донской; Каменской
    ("[сц]кую", frozenset({_ACC})),
    ("ых", _ALL_CASES),  # Седых, Черных: indeclinable
)
_SURNAME_SHAPE = tuple((re.compile(rf"^[а-яё]{{3,}}{ending}$"), cases) for ending, cases in _SURNAME_ENDINGS)


def surname_shape(word: str) -> frozenset[str]:
    """The cases ``word`` (lower case) would have as a regular Russian surname; empty when it is not
    shaped like one."""
    for pattern, cases in _SURNAME_SHAPE:
        if pattern.match(word):
            return cases
    return frozenset()


class Morph:
    def __init__(self) -> None:
        self._analyzer = pymorphy3.MorphAnalyzer()
        self.info = functools.lru_cache(maxsize=_CACHE_SIZE)(self._info)

    def _info(self, word: str) -> WordInfo:
        """``word`` in lower case."""
        if not self._analyzer.word_is_known(word):
            guess = self._guess(word)
            shape = surname_shape(word)
            return WordInfo(known=False, surn=guess.surn, shape=shape) if shape else guess
        first = surn = patr = geox = function = adjective = 0.0
        parses = self._analyzer.parse(word)
        for parse in parses:
            tag = parse.tag
            score = float(parse.score)
            if "Patr" in tag:
                patr += score
            elif "Name" in tag:
                first += score
            elif "Surn" in tag:
                surn += score
            elif "Geox" in tag:
                geox += score
            elif tag.POS in _FUNCTION_POS:
                function += score
            elif tag.POS in _ADJECTIVE_POS:
                adjective += score
        return WordInfo(
            known=True,
            first=first,
            surn=surn,
            patr=patr,
            geox=geox,
            function=function,
            adjective=adjective,
            cases=_name_cases(parses),
            shape=surname_shape(word),
        )

    def _guess(self, word: str) -> WordInfo:
        """An unknown word: only a confident surname guess from its ending ("Шмыгайло", "Хабибуллина")
        is kept, and weakly — it may join a name, never make one."""
        surn = sum(float(p.score) for p in self._analyzer.parse(word) if "Surn" in p.tag)
        return WordInfo(known=False, surn=_GUESSED_SURNAME) if surn >= _GUESS_MIN else UNKNOWN


def _name_cases(parses: list[Any]) -> frozenset[str]:
    """The cases the word's name readings are in; rare readings aside, all cases for an indeclinable
    surname ("Оганесян", "Шевченко")."""
    by_case: dict[str, float] = {}
    fixed = total = 0.0
    for parse in parses:
        tag = parse.tag
        if not ("Patr" in tag or "Name" in tag or "Surn" in tag) or not tag.case:
            continue
        score = float(parse.score)
        total += score
        if "Fixd" in tag:
            fixed += score
        else:
            case = _CASE_FAMILY.get(tag.case, tag.case)
            by_case[case] = by_case.get(case, 0.0) + score
    if total and fixed >= _FIXED_SHARE * total:
        return _ALL_CASES
    rest = total - fixed
    return frozenset(case for case, score in by_case.items() if score >= _CASE_SHARE * rest)
