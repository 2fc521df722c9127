"""From what a customer typed to search terms: layout slips, typos, English, inflections.

* keyboard layout: "ljcnfdrf" (Russian typed on a QWERTY layout) → "доставка"; "цфккфтен" → "warranty";
* English words → Russian lemmas through the domain lexicon;
* lemmas (pymorphy3), so "доставкой" finds "доставка";
* typos: a lemma the base never uses is replaced by the base's nearest one within an edit distance
  of 1 (short words) or 2 (seven letters and more), candidates found through shared letter trigrams.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from b24claude.kit.text import STOP_WORDS
from b24claude.knowledge.lemmas import EXTRA_STOP, Lemmatiser, is_cyrillic, words
from b24claude.knowledge.lexicon import EN_RU, EN_STOP, slang, translate

_QWERTY = "`qwertyuiop[]asdfghjkl;'zxcvbnm,./"
_JCUKEN = "ёйцукенгшщзхъфывапролджэячсмитьбю."
_SHIFTED = {"~": "Ё", "{": "Х", "}": "Ъ", ":": "Ж", '"': "Э", "<": "Б", ">": "Ю"}
_TO_RU_MAP = dict(zip(_QWERTY, _JCUKEN, strict=True))
_TO_RU_MAP |= {q.upper(): r.upper() for q, r in _TO_RU_MAP.items() if q.isalpha()} | _SHIFTED
_TO_RU = str.maketrans(_TO_RU_MAP)
_TO_EN = str.maketrans(dict(zip(_JCUKEN[:-1], _QWERTY[:-1], strict=True)))
_LATIN_KEYS = set(_TO_RU_MAP)
_PLACEHOLDER = re.compile(
    r"\[[A-ZА-ЯЁ]{2,20}_\d{1,4}\]"
)  # pseudonymised PII: "[ТЕЛЕФОН_1]" is not a search term


def to_russian_layout(token: str) -> str:
    return token.translate(_TO_RU)


def to_latin_layout(token: str) -> str:
    return token.lower().translate(_TO_EN)


def edit_distance(a: str, b: str, cap: int) -> int:
    """Damerau–Levenshtein (adjacent transpositions), stopping early once every path exceeds ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


def _trigrams(word: str) -> set[str]:
    w = f"^{word}$"
    return {w[i : i + 3] for i in range(len(w) - 2)}


class Vocabulary:
    """The lemmas of a base with their document frequencies, indexed by trigrams for fuzzy lookup."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        self._by_gram: dict[str, list[str]] = defaultdict(list)
        for word in self.counts:
            if len(word) >= 4:
                for g in _trigrams(word):
                    self._by_gram[g].append(word)

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def nearest(self, word: str) -> str | None:
        if len(word) < 4:
            return None
        cap = 1 if len(word) < 7 else 2
        grams = _trigrams(word)
        shared: dict[str, int] = defaultdict(int)
        for g in grams:
            for cand in self._by_gram.get(g, ()):
                shared[cand] += 1
        best: tuple[int, int, str] | None = None
        for cand, n in shared.items():
            if n < max(1, len(grams) // 4):
                continue
            d = edit_distance(word, cand, cap)
            if d <= cap:
                key = (d, -self.counts[cand], cand)
                if best is None or key < best:
                    best = key
        return best[2] if best else None


@dataclass(frozen=True, slots=True)
class AnalysedQuery:
    text: str  # the query as typed
    terms: tuple[str, ...]  # search lemmas, in order, without repeats
    repairs: tuple[tuple[str, str], ...] = ()  # (typed, used) for layout, typo and English repairs

    @property
    def vector_text(self) -> str:
        return " ".join(self.terms)


class QueryAnalyser:
    def __init__(self, lemmatiser: Lemmatiser) -> None:
        self.lem = lemmatiser

    def _russian_word(self, word: str, vocab: Vocabulary) -> bool:
        lemma = self.lem.lemma(word)
        return lemma in vocab or self.lem.known(word)

    def _fix_layout(self, query: str, vocab: Vocabulary) -> tuple[list[str], list[tuple[str, str]]]:
        """Whitespace tokens typed in the wrong layout, converted; punctuation keys matter here
        (",", ";", "[" are б, ж, х), so this runs before splitting into words."""
        out: list[str] = []
        repairs: list[tuple[str, str]] = []
        for raw in query.split():
            core = raw.strip("!?()")
            if core and all(c in _LATIN_KEYS for c in core) and any(c.isalpha() for c in core):
                lowered = core.lower()
                ru = to_russian_layout(core).lower().strip(".")
                if (
                    lowered not in EN_RU
                    and lowered not in EN_STOP
                    and lowered not in vocab
                    and ru
                    and all(self._russian_word(w, vocab) for w in words(ru))
                ):
                    out.append(ru)
                    repairs.append((core, ru))
                    continue
            elif core and is_cyrillic(core) and not self.lem.known(core.lower()):
                en = to_latin_layout(core)
                if en in EN_RU:
                    out.append(en)
                    repairs.append((core, en))
                    continue
            out.append(raw)
        return out, repairs

    def analyse(self, query: str, vocab: Vocabulary) -> AnalysedQuery:
        tokens, repairs = self._fix_layout(_PLACEHOLDER.sub(" ", query), vocab)
        terms: list[str] = []
        latin: list[str] = []

        def flush_latin() -> None:
            if latin:
                translated, _ = translate(latin)
                terms.extend(translated)
                latin.clear()

        for word in words(" ".join(tokens)):
            if not is_cyrillic(word):
                latin.append(self.lem.lemma(word) if word in vocab else word)
                continue
            flush_latin()
            if word in STOP_WORDS or len(word) < 2:
                continue
            lemma = self.lem.lemma(word)
            if lemma in STOP_WORDS or lemma in EXTRA_STOP:
                continue
            # Slang first: "велик" is a bicycle, whatever the dictionary says ("великий").
            lemma = slang(word) or lemma
            terms.append(lemma)
        flush_latin()
        repaired: list[str] = []
        for term in terms:
            if term and term not in vocab and is_cyrillic(term):
                fixed = vocab.nearest(term)
                if fixed is not None:
                    repairs.append((term, fixed))
                    term = fixed
            repaired.append(term)
        unique = tuple(dict.fromkeys(t for t in repaired if t))
        return AnalysedQuery(text=query, terms=unique, repairs=tuple(repairs))
