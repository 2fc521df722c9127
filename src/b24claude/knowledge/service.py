"""A small keyword index over Markdown/text files: one passage per heading section.

This is the embedded minimum the answer loop needs to ground replies; the knowledge issue
replaces the ranking with FTS5 + vectors behind the same :class:`KnowledgeSource` port.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from b24claude.kit.text import stems
from b24claude.ports.knowledge import Passage

MIN_COVERAGE = 0.34
_HEADING = re.compile(r"^#{1,3}\s+(.+)$", re.MULTILINE)


def split_markdown(doc_id: str, text: str) -> list[Passage]:
    """Sections under ``#``/``##``/``###`` headings become passages ``<doc>-<n>``."""
    marks = list(_HEADING.finditer(text))
    if not marks:
        body = text.strip()
        return [Passage(id=f"{doc_id}-1", title=doc_id, text=body)] if body else []
    out: list[Passage] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end() : end].strip()
        if body:
            out.append(Passage(id=f"{doc_id}-{len(out) + 1}", title=m.group(1).strip(), text=body))
    return out


class KeywordKnowledgeBase:
    """Passages shared by every portal (per-portal bases come with the knowledge issue)."""

    def __init__(self, passages: Iterable[Passage] = ()) -> None:
        self._passages: list[tuple[Passage, set[str]]] = []
        self.add(passages)

    def add(self, passages: Iterable[Passage]) -> None:
        for p in passages:
            self._passages.append((p, stems(f"{p.title} {p.title} {p.text}")))

    @classmethod
    def from_directory(cls, path: str | Path) -> KeywordKnowledgeBase:
        root = Path(path)
        kb = cls()
        for f in sorted(root.glob("*.md")) + sorted(root.glob("*.txt")):
            kb.add(split_markdown(f.stem, f.read_text(encoding="utf-8")))
        return kb

    def __len__(self) -> int:
        return len(self._passages)

    async def search(self, member_id: str, query: str, *, limit: int = 3) -> Sequence[Passage]:
        q = stems(query)
        if not q:
            return []
        scored = []
        for p, s in self._passages:
            overlap = len(q & s)
            # One shared word out of many ("кофемашину") is not relevance: ask for a third of the question.
            if overlap and overlap / len(q) >= MIN_COVERAGE:
                scored.append((overlap / (len(q) ** 0.5), p))
        scored.sort(key=lambda t: -t[0])
        return [Passage(p.id, p.title, p.text, round(score, 3)) for score, p in scored[:limit]]
