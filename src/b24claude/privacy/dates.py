"""Birth dates: a date (or a year) that the words around it call a birth date.

A date alone is not PII ("доставка 12.05.2026"); "д.р. 12.05.1990", "родилась 3 марта 1985 г.",
"1990 г.р." are. Dates of an earlier century with no words around are returned as *old dates*: the
detector calls them birth dates only right after a person's name ("Иванов Иван, 12.05.1980").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from b24claude.privacy.candidates import STRONG, Candidate

_MONTHS = (
    r"(?:январ[яь]|янв|феврал[яь]|фев|марта?|мар|апрел[яь]|апр|ма[яй]|июн[яь]|июн|июл[яь]|июл|"
    r"августа?|авг|сентябр[яь]|сен|сент|октябр[яь]|окт|ноябр[яь]|ноя|декабр[яь]|дек)\.?"
)
# A day written as an ordinal word: "двенадцатое марта", "двадцать первого мая".
_DAY_WORD = (
    r"(?:(?:двадцать|тридцать)\s+)?(?:перв|втор|трет|четв[её]рт|пят|шест|седьм|восьм|девят|десят|"
    r"одиннадцат|двенадцат|тринадцат|четырнадцат|пятнадцат|шестнадцат|семнадцат|восемнадцат|"
    r"девятнадцат|двадцат|тридцат)(?:ое|ого|ье|ьего|его)"
)
_YEAR_WORD = r"(?:\s?(?:г\.?\s?р\.?|гр\b|г\.|г\b|года?\s+рождения|году|года?)(?![а-яё]))?"
_DATE = re.compile(
    r"(?<![\d.])(?P<date>"
    r"(?P<d1>0?[1-9]|[12]\d|3[01])\s?[./\-]\s?(?P<m1>0?[1-9]|1[0-2])\s?[./\-]\s?(?P<y1>(?:19|20)\d{2}|\d{2})"
    rf"|(?P<d2>0?[1-9]|[12]\d|3[01])(?:-?го)?\s+{_MONTHS}(?:\s+(?P<y2>(?:19|20)\d{{2}}))?"
    r"|(?P<y3>(?:19|20)\d{2})-(?P<m3>0[1-9]|1[0-2])-(?P<d3>0[1-9]|[12]\d|3[01])"
    rf"|(?<![а-яё]){_DAY_WORD}\s+{_MONTHS}(?:\s+(?P<y4>(?:19|20)\d{{2}}))?"
    rf")(?!\d){_YEAR_WORD}",
    re.IGNORECASE,
)
# A bare year that the words around call a birth year.
_YEAR = re.compile(
    r"(?<![\d.\-/])(?P<y>(?:19|20)\d{2})(?:\s?(?:г\.?\s?р\.?|гр\b|г\.?\s?рожд\.?|года?\s+рождения|г\.|году|года?)(?![а-яё]))?"
    r"(?![\d])",
    re.IGNORECASE,
)
_BIRTH_BEFORE = re.compile(
    r"(?:дат\w*\s+рожд|\bд\.\s?р\.?|\bд/р\b|\bдр\b|\bд\.р\b|\bдень\s+рождени|\bрожд|\bродил|\bрод\.|"
    r"\bborn\b|\bbirth|\bdob\b|\bгод\s+рожд|\bгода\s+рожд)\w*[\s:.,\-–—]*(?:[^\W\d]+[\s:,\-–—]+){0,2}$"
)
_BIRTH_AFTER = re.compile(r"(?:г\.?\s?р\.?|гр\b|г\.?\s?рожд|года?\s+рождения)", re.IGNORECASE)
_BIRTH_YEAR_BEFORE = re.compile(
    r"(?:\bродил\w*|\bрожд\w*|\bгод\s+рожд\w*|\bг\.?\s?р\.?|\bborn)[\s:.,\-–—]*(?:в\s+)?$"
)
_WINDOW = 40
_OLD_YEAR_MAX = 2012
_OLD_TWO_DIGIT_MIN = 30


@dataclass(frozen=True, slots=True)
class DateFinds:
    births: list[Candidate]
    old_dates: list[Candidate]  # no birth words around, but a year a customer could be born in


def find_dates(text: str) -> DateFinds:
    births: list[Candidate] = []
    old: list[Candidate] = []
    lower = text.lower()
    taken: list[tuple[int, int]] = []
    for m in _DATE.finditer(text):
        start, end = m.start(), m.end("date")  # "г.", "года", "г.р." after it are not part of the date
        taken.append((start, m.end()))
        if _birth_context(lower, start, m.group(0)):
            births.append(Candidate("birthdate", start, end, STRONG))
        elif _old_year(m):
            old.append(Candidate("birthdate", start, end, STRONG))
    for m in _YEAR.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        before = lower[max(0, m.start() - _WINDOW) : m.start()]
        if _BIRTH_AFTER.search(m.group(0)) or _BIRTH_YEAR_BEFORE.search(before):
            births.append(Candidate("birthdate", m.start(), m.end("y"), STRONG))
    return DateFinds(births, old)


def _birth_context(lower: str, start: int, value: str) -> bool:
    if _BIRTH_AFTER.search(value.lower()):
        return True
    before = lower[max(0, start - _WINDOW) : start]
    before = re.split(r"\d|[!?\n]", before)[-1]
    return _BIRTH_BEFORE.search(before) is not None


def _old_year(m: re.Match[str]) -> bool:
    year = m.group("y1") or m.group("y2") or m.group("y3") or m.group("y4")
    if not year:
        return False
    if len(year) == 2:
        return int(year) >= _OLD_TWO_DIGIT_MIN  # "03.11.96": 1996; "03.11.26" is a delivery date
    return 1920 <= int(year) <= _OLD_YEAR_MAX
