"""The configured vector backends: Qdrant (qdrant-client's local mode, no server) and Voyage (its
emulator over HTTP), wired by ``knowledge_parts`` as in production. What they prove: the wire format,
the index following the store, and per-portal isolation. Not retrieval quality: the emulator's vectors
are hashed spelling, not meaning.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from b24claude.adapters.sql import SqlStore
from b24claude.adapters.vectors import HashedNgramEmbedder
from b24claude.adapters.vectors.qdrant_index import QdrantVectorIndex
from b24claude.errors import ConfigurationError
from b24claude.ports.knowledge import SHARED_BASE
from b24claude.sandbox.server import ServerHandle
from b24claude.sandbox.voyage import DEFAULT_KEY, VoyageState, create_voyage_app
from tests.unit.kb_support import open_kb

A, B = "portal-a", "portal-b"
DOC_A = "# Самокаты\n\nЭлектросамокат Вихрь заряжается за четыре часа от обычной розетки.\n"
DOC_B = "# Велосипеды\n\nГорный велосипед Буран продаётся только с карбоновой рамой.\n"
QUERY_B = "горный велосипед буран карбоновая рама"


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def voyage() -> AsyncIterator[tuple[VoyageState, str]]:
    state = VoyageState()
    async with ServerHandle(create_voyage_app(state)) as server:
        yield state, server.base_url + "/v1"


async def test_qdrant_never_returns_another_portals_points(tmp_path: Path) -> None:
    async with open_kb(kb_vector_index="qdrant", qdrant_path=":memory:") as kb:
        await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        await kb.service.add(B, [_write(tmp_path / "b", "bike.md", DOC_B)])
        hits_b = await kb.search.hits(B, QUERY_B, mode="vector")
        assert hits_b and {h.chunk.member_id for h in hits_b} == {B}
        # Portal A asks with portal B's very words: the filter keeps B's passage out.
        hits_a = await kb.search.hits(A, QUERY_B, mode="vector", limit=10)
        assert {h.chunk.member_id for h in hits_a} <= {A}
        index = kb.vectors
        assert isinstance(index, QdrantVectorIndex)
        vector = (await HashedNgramEmbedder().embed(["велосипед буран карбоновый рама"]))[0]
        raw = await index.search([A], vector, limit=50)
        a_ids = set((await kb.service._repo.vectors(A))[0])
        assert raw and {h.chunk_id for h in raw} <= a_ids


async def test_qdrant_follows_replacement_and_removal(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    async with open_kb(kb_vector_index="qdrant", qdrant_path=":memory:") as kb:
        index = kb.vectors
        assert isinstance(index, QdrantVectorIndex)
        repo = kb.service._repo
        await kb.service.add(A, [_write(folder, "scooter.md", DOC_A)])
        await kb.search.hits(A, "самокат", mode="vector")
        first = set((await repo.vectors(A))[0])
        assert await index.point_ids(A) == first
        _write(folder, "scooter.md", DOC_A + "\n## Гарантия\n\nНа аккумулятор Вихря гарантия два года.\n")
        await kb.service.sync(A, folder)
        hits = await kb.search.hits(A, "гарантия аккумулятор вихрь", mode="vector")
        second = set((await repo.vectors(A))[0])
        assert len(second) == 2 and first & second  # SQLite gave the new version's first chunk the old id
        points = await index.points(A)
        assert set(points) == second
        stored = dict(zip(*(await repo.vectors(A)), strict=True))
        assert all(points[cid] == zlib.crc32(stored[cid]) for cid in second)  # the new vectors, not the old
        assert any("два года" in h.chunk.text for h in hits)
        await kb.service.remove(A, "scooter.md")
        assert await kb.search.hits(A, "самокат", mode="vector") == []
        assert await index.point_ids(A) == set()


async def test_qdrant_local_folder_keeps_points_across_processes(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/kb.db"
    settings = {"kb_vector_index": "qdrant", "qdrant_path": str(tmp_path / "qdrant")}
    async with open_kb(db, **settings) as kb:
        await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        assert await kb.search.hits(A, "самокат", mode="vector")
        ids = set((await kb.service._repo.vectors(A))[0])
    async with open_kb(db, **settings) as kb:
        index = kb.vectors
        assert isinstance(index, QdrantVectorIndex)
        assert await index.point_ids(A) == ids  # there before this process synced anything
        assert await kb.search.hits(A, "самокат", mode="vector")


async def test_qdrant_refuses_vectors_of_another_dimension(tmp_path: Path) -> None:
    store = await SqlStore.open("sqlite+aiosqlite:///:memory:")
    index = QdrantVectorIndex(store.knowledge, collection="kb", path=":memory:")
    try:
        await index.search([A], np.ones(8, dtype=np.float32) / np.sqrt(8), limit=3)  # creates it, 8-dim
        index.invalidate(A)
        with pytest.raises(ConfigurationError, match="8-dimensional"):
            await index.search([A], np.ones(16, dtype=np.float32) / 4, limit=3)
    finally:
        await index.aclose()
        await store.close()


def test_qdrant_needs_an_address() -> None:
    with pytest.raises(ConfigurationError, match="B24C_QDRANT_URL"):
        QdrantVectorIndex(object(), collection="kb")  # type: ignore[arg-type]


async def test_voyage_embeds_documents_and_queries_as_written(
    tmp_path: Path, voyage: tuple[VoyageState, str]
) -> None:
    state, api = voyage
    settings = {"kb_embedder": "voyage", "voyage_url": api, "voyage_api_key": DEFAULT_KEY}
    async with open_kb(**settings) as kb:
        await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        docs = [r for r in state.requests if r.get("input_type") == "document"]
        assert len(docs) == 1 and docs[0]["model"] == "voyage-4"
        assert docs[0]["input"][0].startswith("Самокаты\nЭлектросамокат Вихрь")  # heading path, then text
        hits = await kb.search.hits(A, "Сколько заряжается Вихрь?", mode="vector")
        assert hits and hits[0].chunk.document_key == "scooter.md"
        queries = [r for r in state.requests if r.get("input_type") == "query"]
        assert [q["input"] for q in queries] == [["Сколько заряжается Вихрь?"]]  # not lemmas
        stored = (await kb.service.passages_of(A, "scooter.md"))[0].vector
        assert len(stored) == 1024 * 4  # the dimension Voyage answered with


async def test_voyage_with_qdrant_keeps_portals_and_the_shared_base_apart(
    tmp_path: Path, voyage: tuple[VoyageState, str]
) -> None:
    _, api = voyage
    settings = {
        "kb_embedder": "voyage",
        "voyage_url": api,
        "voyage_api_key": DEFAULT_KEY,
        "voyage_output_dimension": 256,
        "kb_vector_index": "qdrant",
        "qdrant_path": ":memory:",
    }
    async with open_kb(**settings) as kb:
        await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        await kb.service.add(B, [_write(tmp_path / "b", "bike.md", DOC_B)])
        await kb.service.add(
            SHARED_BASE, [_write(tmp_path / "s", "common.md", "# Контакты\n\nТелефон 8-800.\n")]
        )
        for member, other in ((A, B), (B, A)):
            hits = await kb.search.hits(member, QUERY_B + " самокат вихрь телефон", mode="vector", limit=10)
            members = {h.chunk.member_id for h in hits}
            assert member in members and SHARED_BASE in members and other not in members
        stored = (await kb.service.passages_of(A, "scooter.md"))[0].vector
        assert len(stored) == 256 * 4


async def test_a_wrong_voyage_key_stops_ingestion_with_nothing_written(
    tmp_path: Path, voyage: tuple[VoyageState, str]
) -> None:
    _, api = voyage
    async with open_kb(kb_embedder="voyage", voyage_url=api, voyage_api_key="pa-wrong") as kb:
        with pytest.raises(Exception, match="B24C_VOYAGE_API_KEY"):
            await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        assert await kb.service.documents(A) == []


async def test_voyage_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="B24C_VOYAGE_API_KEY"):
        async with open_kb(kb_embedder="voyage"):
            pass


async def test_the_numpy_index_never_compares_vectors_of_another_dimension(tmp_path: Path) -> None:
    async with open_kb() as kb:
        await kb.service.add(A, [_write(tmp_path / "a", "scooter.md", DOC_A)])
        same = (await HashedNgramEmbedder().embed(["электросамокат вихрь"]))[0]
        assert await kb.vectors.search([A], same, limit=3)
        other = np.ones(256, dtype=np.float32) / 16  # as an embedder of another dimension would make
        assert await kb.vectors.search([A], other, limit=3) == []
