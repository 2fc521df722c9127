"""Sections into passages: whole sentences only, each passage carrying its heading path.

A passage is at most ``max_chars`` long unless one sentence alone is longer (it is never cut).
Sentences end at ``.!?…`` followed by a space and a capital letter, a digit or a quote — not after
common abbreviations ("т. е.", "г.", "руб.", "ул.") or initials.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from b24claude.ports.knowledge import ParsedDocument, Section

MAX_CHARS = 700
_ABBREV = frozenset(
    "т е д п г гг р руб коп ул д кв стр им см мин макс тыс млн млрд шт ок прим др пр т.е т.д т.п e.g i.e "
    "mr mrs dr vs etc no".split()
)
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"»)]?\s+(?=[\"«(]?[A-ZА-ЯЁ0-9])")


def sentences(paragraph: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(paragraph):
        before = paragraph[start : m.start()].rstrip()
        last = re.findall(r"([A-Za-zА-Яа-яЁё.]+)\.$", before)
        if last and (last[0].lower() in _ABBREV or len(last[0]) == 1):
            continue
        out.append(paragraph[start : m.end()].strip())
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; lines inside a block joined (hard-wrapped text, PDF lines)."""
    blocks = re.split(r"\n\s*\n", text)
    out: list[str] = []
    for block in blocks:
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        # Lines that end a sentence, or are short list-like items, stay lines; the rest are wrapped text.
        joined: list[str] = []
        for ln in lines:
            if joined and not re.search(r"[.!?:;…»]$", joined[-1]) and ln[:1].islower():
                joined[-1] = f"{joined[-1]} {ln}"
            else:
                joined.append(ln)
        out.extend(joined)
    return out


def split_section(section: Section, *, max_chars: int = MAX_CHARS) -> Iterator[str]:
    buf: list[str] = []
    size = 0
    for para in _paragraphs(section.text):
        for sent in sentences(para):
            if buf and size + len(sent) + 1 > max_chars:
                yield " ".join(buf)
                buf, size = [], 0
            buf.append(sent)
            size += len(sent) + 1
        if buf and size > max_chars * 0.6:  # end at a paragraph when the passage is already long
            yield " ".join(buf)
            buf, size = [], 0
    if buf:
        yield " ".join(buf)


def citation(doc_name: str, section: Section) -> str:
    """``file.md#Nearest heading``, an FAQ entry's own label, or the bare file name."""
    if section.label:
        return section.label
    if section.headings:
        return f"{doc_name}#{section.headings[-1]}"
    return doc_name


def passages(
    doc: ParsedDocument, *, max_chars: int = MAX_CHARS
) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(citation, heading path, text) for every passage of the document, in order."""
    for section in doc.sections:
        headings: Sequence[str] = section.headings
        if not headings and doc.title:
            headings = (doc.title,)
        for text in split_section(section, max_chars=max_chars):
            yield citation(doc.name, section), tuple(headings), text
