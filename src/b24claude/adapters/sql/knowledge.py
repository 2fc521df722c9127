"""The knowledge base in the SQL store: documents, their chunks and the lexical index.

SQLite: FTS5 over the chunks' lemmas (``kb_fts``, kept by triggers), ranked by BM25 with headings
weighted twice. PostgreSQL: ``to_tsvector('simple', …)`` on the same lemmas, ranked by ``ts_rank``.
Replacing a document deletes its old chunks, inserts the new ones and bumps the portal's generation
in one transaction: a reader sees the old version or the new one, never a mix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, text

from b24claude.adapters.sql.engine import SqlDatabase
from b24claude.adapters.sql.tables import kb_chunks, kb_documents, kb_generations
from b24claude.ports.knowledge import Chunk, LexicalHit, StoredChunk, StoredDocument

_TERM = re.compile(r"^[0-9a-zа-яё-]+$")
_HEADING_WEIGHT = 2.0


_CYRILLIC = re.compile("[а-яё]")


def stem_prefix(term: str) -> str | None:
    """A prefix that also finds a Russian lemma's derivatives ("оплат" for оплатить/оплата), or None."""
    if len(term) < 6 or not _CYRILLIC.search(term):
        return None
    return term[: max(4, len(term) - 3)]


def _fts_query(terms: Sequence[str]) -> str:
    parts: list[str] = []
    for t in dict.fromkeys(terms):
        if not _TERM.match(t):
            continue
        parts.append(f'"{t}"')
        prefix = stem_prefix(t)
        if prefix:
            parts.append(f'"{prefix}"*')
    return " OR ".join(parts)


def _chunk(row: Any) -> StoredChunk:
    return StoredChunk(
        id=int(row.id),
        member_id=row.member_id,
        document_key=row.document_key,
        ordinal=int(row.ordinal),
        source=row.source,
        headings=tuple(row.headings or ()),
        text=row.text,
        lemmas=row.lemmas,
        heading_lemmas=row.heading_lemmas,
        vector=bytes(row.vector),
    )


def _document(row: Any) -> StoredDocument:
    return StoredDocument(
        member_id=row.member_id,
        key=row.key,
        name=row.name,
        format=row.format,
        digest=row.digest,
        size=int(row.size),
        chunks=int(row.chunks),
        updated_at=float(row.updated_at),
    )


class SqlKnowledgeRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def _bump(self, conn: Any, member_id: str) -> None:
        upsert = self._db.insert(kb_generations).values(member_id=member_id, generation=1)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["member_id"], set_={"generation": kb_generations.c.generation + 1}
            )
        )

    async def replace_document(self, doc: StoredDocument, chunks: Sequence[Chunk]) -> None:
        async with self._db.write("kb.replace_document") as conn:
            await conn.execute(
                delete(kb_chunks).where(
                    kb_chunks.c.member_id == doc.member_id, kb_chunks.c.document_key == doc.key
                )
            )
            await conn.execute(
                delete(kb_documents).where(
                    kb_documents.c.member_id == doc.member_id, kb_documents.c.key == doc.key
                )
            )
            await conn.execute(
                kb_documents.insert().values(
                    member_id=doc.member_id,
                    key=doc.key,
                    name=doc.name,
                    format=doc.format,
                    digest=doc.digest,
                    size=doc.size,
                    chunks=len(chunks),
                    updated_at=doc.updated_at or time.time(),
                )
            )
            if chunks:
                await conn.execute(
                    kb_chunks.insert(),
                    [
                        {
                            "member_id": doc.member_id,
                            "document_key": doc.key,
                            "ordinal": c.ordinal,
                            "source": c.source,
                            "headings": list(c.headings),
                            "text": c.text,
                            "lemmas": c.lemmas,
                            "heading_lemmas": c.heading_lemmas,
                            "vector": c.vector,
                        }
                        for c in chunks
                    ],
                )
            await self._bump(conn, doc.member_id)

    async def remove_document(self, member_id: str, key: str) -> bool:
        async with self._db.write("kb.remove_document") as conn:
            await conn.execute(
                delete(kb_chunks).where(kb_chunks.c.member_id == member_id, kb_chunks.c.document_key == key)
            )
            result = await conn.execute(
                delete(kb_documents).where(kb_documents.c.member_id == member_id, kb_documents.c.key == key)
            )
            removed = bool(getattr(result, "rowcount", 0))
            if removed:
                await self._bump(conn, member_id)
            return removed

    async def documents(self, member_id: str) -> list[StoredDocument]:
        async with self._db.read("kb.documents") as conn:
            rows = await conn.execute(
                select(kb_documents).where(kb_documents.c.member_id == member_id).order_by(kb_documents.c.key)
            )
            return [_document(r) for r in rows]

    async def chunks_of(self, member_id: str, key: str) -> list[StoredChunk]:
        async with self._db.read("kb.chunks_of") as conn:
            rows = await conn.execute(
                select(kb_chunks)
                .where(kb_chunks.c.member_id == member_id, kb_chunks.c.document_key == key)
                .order_by(kb_chunks.c.ordinal)
            )
            return [_chunk(r) for r in rows]

    async def chunks_by_id(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        async with self._db.read("kb.chunks_by_id") as conn:
            rows = await conn.execute(select(kb_chunks).where(kb_chunks.c.id.in_(list(ids))))
            return {int(r.id): _chunk(r) for r in rows}

    async def lexical_search(
        self, member_ids: Sequence[str], terms: Sequence[str], *, limit: int
    ) -> list[LexicalHit]:
        match = _fts_query(terms)
        if not match or not member_ids:
            return []
        scopes = {f"m{i}": m for i, m in enumerate(member_ids)}
        in_list = ", ".join(f":{k}" for k in scopes)
        if self._db.dialect == "sqlite":
            sql = text(
                f"SELECT c.id AS id, bm25(kb_fts, {_HEADING_WEIGHT}, 1.0) AS rank FROM kb_fts "
                f"JOIN kb_chunks c ON c.id = kb_fts.rowid "
                f"WHERE kb_fts MATCH :q AND c.member_id IN ({in_list}) ORDER BY rank LIMIT :limit"
            )
            sign = -1.0  # bm25() is lower-is-better
        else:
            sql = text(
                "SELECT c.id AS id, ts_rank(to_tsvector('simple', c.heading_lemmas || ' ' || c.lemmas), q) AS rank "
                "FROM kb_chunks c, to_tsquery('simple', :q) q "
                f"WHERE to_tsvector('simple', c.heading_lemmas || ' ' || c.lemmas) @@ q AND c.member_id IN ({in_list}) "
                "ORDER BY rank DESC LIMIT :limit"
            )
            sign = 1.0
            match = " | ".join(
                f"'{stem_prefix(t) or t}':*" if stem_prefix(t) else f"'{t}'"
                for t in dict.fromkeys(terms)
                if _TERM.match(t)
            )
        async with self._db.read("kb.lexical_search") as conn:
            rows = await conn.execute(sql, {"q": match, "limit": limit, **scopes})
            return [LexicalHit(int(r.id), sign * float(r.rank)) for r in rows]

    async def vectors(self, member_id: str) -> tuple[list[int], list[bytes]]:
        async with self._db.read("kb.vectors") as conn:
            rows = (
                await conn.execute(
                    select(kb_chunks.c.id, kb_chunks.c.vector)
                    .where(kb_chunks.c.member_id == member_id)
                    .order_by(kb_chunks.c.id)
                )
            ).all()
            return [int(r.id) for r in rows], [bytes(r.vector) for r in rows]

    async def vocabulary(self, member_ids: Sequence[str]) -> tuple[int, dict[str, int]]:
        counts: dict[str, int] = {}
        total = 0
        async with self._db.read("kb.vocabulary") as conn:
            rows = await conn.execute(
                select(kb_chunks.c.lemmas, kb_chunks.c.heading_lemmas).where(
                    kb_chunks.c.member_id.in_(list(member_ids))
                )
            )
            for r in rows:
                total += 1
                for lemma in set(f"{r.heading_lemmas} {r.lemmas}".split()):
                    counts[lemma] = counts.get(lemma, 0) + 1
        return total, counts

    async def generation(self, member_id: str) -> int:
        async with self._db.read("kb.generation") as conn:
            value = await conn.scalar(
                select(kb_generations.c.generation).where(kb_generations.c.member_id == member_id)
            )
            return int(value or 0)

    async def portals(self) -> list[str]:
        async with self._db.read("kb.portals") as conn:
            rows = await conn.execute(select(func.distinct(kb_documents.c.member_id)))
            return sorted(str(r[0]) for r in rows)
