"""Markdown and plain text into sections under their heading paths."""

from __future__ import annotations

import re

from b24claude.ports.knowledge import Section

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_INLINE = re.compile(r"(\*\*|__|`)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_END_PUNCT = '.!?:;,…»")'


def _clean_md(line: str) -> str:
    line = _LINK.sub(r"\1", line)
    return _MD_INLINE.sub("", line)


class _Builder:
    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.lines: list[str] = []
        self.sections: list[Section] = []

    def heading(self, level: int, title: str) -> None:
        self.flush()
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, title))

    def text(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        body = "\n".join(self.lines).strip()
        self.lines = []
        if body:
            self.sections.append(Section(headings=tuple(t for _, t in self.path), text=body))


_MD_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def markdown_sections(text: str) -> list[Section]:
    """``#`` … ``######`` headings open sections; list marks, emphasis and link targets are dropped, and
    so are HTML comments (a rendered page never shows them: no knowledge, only a place to hide text)."""
    text = _MD_COMMENT.sub("", text)
    b = _Builder()
    in_fence = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            continue
        m = None if in_fence else _MD_HEADING.match(raw)
        if m:
            b.heading(len(m.group(1)), _clean_md(m.group(2)).strip())
        else:
            line = raw if in_fence else _LIST_MARK.sub("", _clean_md(raw))
            b.text(line.rstrip())
    b.flush()
    return b.sections


def looks_like_heading(line: str, prev_blank: bool, next_line: str) -> bool:
    """A short line with no closing punctuation, on its own, followed by text: a heading in a text file
    or a PDF page (they carry no markup)."""
    s = line.strip()
    return (
        prev_blank
        and 2 <= len(s) <= 80
        and s[-1] not in _END_PUNCT
        and not s[0].isdigit()
        and s[0].isupper()
        and bool(next_line.strip())
        and len(s.split()) <= 10
    )


def text_sections(text: str, *, loose: bool = False) -> list[Section]:
    """Plain text: paragraphs, with short stand-alone lines taken as headings (level by position: the
    first one is the title). ``loose`` (PDF text, which has no blank lines between blocks): a line
    after a finished sentence may be a heading too."""
    b = _Builder()
    lines = [re.sub(r"[ \t]{2,}", " ", ln) for ln in text.splitlines()]
    prev_blank = True
    seen_title = False
    for i, raw in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if looks_like_heading(raw, prev_blank, nxt) or (
            not seen_title and i == 0 and looks_like_heading(raw, True, "x")
        ):
            b.heading(2 if seen_title else 1, raw.strip())
            seen_title = True
            prev_blank = loose  # a title line may be followed by a section heading at once
            continue
        else:
            b.text(raw.rstrip())
        stripped = raw.strip()
        prev_blank = not stripped or (loose and stripped[-1] in ".!?…")
    b.flush()
    return b.sections
