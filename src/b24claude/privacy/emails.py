"""E-mail addresses, Cyrillic domains and the "собака"/"(at)" spellings included (no lookups)."""

from __future__ import annotations

import re

from b24claude.privacy.candidates import STRONG, Candidate

_LOCAL = r"[A-Za-z0-9А-Яа-яЁё!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9А-Яа-яЁё!#$%&'*+/=?^_`{|}~\-]+)*"
_LABEL = r"[A-Za-z0-9А-Яа-яЁё](?:[A-Za-z0-9А-Яа-яЁё\-]{0,61}[A-Za-z0-9А-Яа-яЁё])?"
_AT = r"(?:\s?@\s?|\s?\(at\)\s?|\s?\[at\]\s?|\s?\{at\}\s?|\s(?:at|собака|собачка)\s)"
_DOT = r"(?:\.|\s?\(dot\)\s?|\s?\[dot\]\s?|\s(?:dot|точка)\s)"
_TLD = r"(?:[A-Za-zА-Яа-яЁё]{2,24}|xn--[a-z0-9\-]{2,59})"
_EMAIL = re.compile(
    rf"(?<![\w.\-+@]){_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}{_TLD}(?![\w\-@])",
    re.IGNORECASE,
)
# Spelled-out separators need Latin words around them: "мама собака папа" is not an address.
_SPELLED = re.compile(r"\s(?:at|собака|собачка|dot|точка)\s|\((?:at|dot)\)|\[(?:at|dot)\]|\{at\}", re.I)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def find_emails(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _EMAIL.finditer(text):
        value = m.group()
        if "@" not in value and (not _SPELLED.search(value) or not _ASCII_WORD.match(value)):
            continue
        out.append(Candidate("email", m.start(), m.end(), STRONG))
    return out
