"""Hybrid retrieval: BM25 over lemmas and vector similarity, fused by reciprocal rank.

A portal searches its own base plus the service-wide one (``B24C_KNOWLEDGE_DIR``); never another
portal's. The query is repaired first (layout, typos, English: :mod:`b24claude.knowledge.query`).
Each hit also gets a *coverage*: the IDF-weighted share of the query's terms it contains — the
answer loop's test of "good enough" (RRF scores are ranks, not relevance).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from b24claude.knowledge.lemmas import Lemmatiser
from b24claude.knowledge.query import AnalysedQuery, QueryAnalyser, Vocabulary
from b24claude.ports.knowledge import (
    SHARED_BASE,
    Embedder,
    KnowledgeRepository,
    Passage,
    StoredChunk,
    VectorIndex,
)

Mode = Literal["hybrid", "bm25", "vector"]
RRF_K = 60
CANDIDATES = 40
MIN_COVERAGE = 0.34  # below this the answer loop treats the base as having no answer
_CLAUSE = re.compile(r"(?<=[.!?])\s+|\n+")
_VECTOR_WEIGHT = 0.8  # the vector list is noisier than BM25's: it counts a little less in the fusion


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: StoredChunk
    score: float
    coverage: float
    bm25_rank: int | None = None
    vector_rank: int | None = None

    def passage(self) -> Passage:
        title = " › ".join(self.chunk.headings) or self.chunk.source
        return Passage(
            id=f"k{self.chunk.id}",
            title=title,
            text=self.chunk.text,
            score=round(self.score, 5),
            source=self.chunk.source,
            coverage=round(self.coverage, 3),
        )


@dataclass
class _VocabEntry:
    key: tuple[int, ...]
    total: int
    vocab: Vocabulary


class HybridSearch:
    """The :class:`~b24claude.ports.knowledge.KnowledgeSource` of the answer loop, and ranked hits for
    ``kb search`` and the benchmark."""

    def __init__(
        self,
        *,
        repository: KnowledgeRepository,
        vectors: VectorIndex,
        embedder: Embedder,
        lemmatiser: Lemmatiser,
        shared: bool = True,
        min_coverage: float = MIN_COVERAGE,
    ) -> None:
        self._repo = repository
        self._vectors = vectors
        self._embedder = embedder
        self._analyser = QueryAnalyser(lemmatiser)
        self._shared = shared
        self.min_coverage = min_coverage
        self._vocab: dict[tuple[str, ...], _VocabEntry] = {}

    def scopes(self, member_id: str) -> tuple[str, ...]:
        return (member_id, SHARED_BASE) if self._shared and member_id != SHARED_BASE else (member_id,)

    async def _vocabulary(self, scopes: tuple[str, ...]) -> _VocabEntry:
        key = tuple([await self._repo.generation(s) for s in scopes])
        entry = self._vocab.get(scopes)
        if entry is None or entry.key != key:
            total, counts = await self._repo.vocabulary(scopes)
            entry = _VocabEntry(key, total, Vocabulary(counts))
            self._vocab[scopes] = entry
        return entry

    async def analyse(self, member_id: str, query: str) -> AnalysedQuery:
        entry = await self._vocabulary(self.scopes(member_id))
        return self._analyser.analyse(query, entry.vocab)

    async def hits(self, member_id: str, query: str, *, limit: int = 5, mode: Mode = "hybrid") -> list[Hit]:
        """The best passages for ``query``, best first."""
        scopes = self.scopes(member_id)
        entry = await self._vocabulary(scopes)
        analysed = self._analyser.analyse(query, entry.vocab)
        if not analysed.terms:
            return []
        lexical: list[int] = []
        vector: list[int] = []
        if mode in ("hybrid", "bm25"):
            found = await self._repo.lexical_search(scopes, analysed.terms, limit=CANDIDATES)
            lexical = [h.chunk_id for h in found]
        if mode in ("hybrid", "vector"):
            text = analysed.vector_text if self._embedder.lemmatised else query
            qv = (await self._embedder.embed([text], purpose="query"))[0]
            near = await self._vectors.search(scopes, qv, limit=CANDIDATES)
            vector = [h.chunk_id for h in near if h.score > 0]
        fused: dict[int, float] = {}
        for rank, cid in enumerate(lexical, 1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        for rank, cid in enumerate(vector, 1):
            fused[cid] = fused.get(cid, 0.0) + _VECTOR_WEIGHT / (RRF_K + rank)
        best = sorted(fused, key=lambda c: -fused[c])[:limit]
        chunks = await self._repo.chunks_by_id(best)
        # A message of several sentences is answered when one of them is ("my new number is …; how much
        # is delivery?"): coverage is the best over the sentences.
        parts = [self._analyser.analyse(p, entry.vocab).terms for p in _CLAUSE.split(query) if p.strip()]
        term_sets = [t for t in parts if t] or [analysed.terms]
        lex_rank = {c: i for i, c in enumerate(lexical, 1)}
        vec_rank = {c: i for i, c in enumerate(vector, 1)}
        out: list[Hit] = []
        for cid in best:
            chunk = chunks.get(cid)
            if chunk is None:  # replaced between the two reads: the next search sees the new version
                continue
            out.append(
                Hit(
                    chunk=chunk,
                    score=fused[cid],
                    coverage=max(_coverage(t, chunk, entry) for t in term_sets),
                    bm25_rank=lex_rank.get(cid),
                    vector_rank=vec_rank.get(cid),
                )
            )
        return out

    async def search(self, member_id: str, query: str, *, limit: int = 3) -> Sequence[Passage]:
        """Passages good enough to answer from (coverage ≥ ``min_coverage``); empty when there are none."""
        hits = await self.hits(member_id, query, limit=limit)
        return [h.passage() for h in hits if h.coverage >= self.min_coverage]


def _coverage(terms: Sequence[str], chunk: StoredChunk, entry: _VocabEntry) -> float:
    present = set(chunk.lemmas.split()) | set(chunk.heading_lemmas.split())
    stems = {p[:5] for p in present if len(p) >= 6}
    total = 0.0
    got = 0.0
    n = max(entry.total, 1)
    for t in terms:
        df = entry.vocab.counts.get(t, 0)
        idf = math.log(1 + n / (df + 0.5))
        total += idf
        if t in present:
            got += idf
        elif len(t) >= 6 and t[:5] in stems:  # a derivative: "оплатить" in a passage about "оплата"
            got += 0.8 * idf
    return got / total if total else 0.0
