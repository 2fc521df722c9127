"""The vector index in Qdrant (``B24C_KB_VECTOR_INDEX=qdrant``), through ``qdrant-client``.

One collection (``B24C_QDRANT_COLLECTION``, cosine) holds every portal's chunks: a point's id is the
chunk's id in the store and its payload ``member_id`` the portal; every search carries a filter on
``member_id`` (keyword-indexed), so a query never sees another portal's points. The store's
``kb_chunks.vector`` stays the truth: before answering for a portal whose generation changed since
this process last looked, the index compares the portal's points (id and a checksum of the vector)
with the store's chunks, deletes the points of chunks that are gone and uploads the missing or
changed ones. A search in between may
return a chunk just deleted: the caller drops ids the store no longer has, so an answer never
mixes versions. A server (``B24C_QDRANT_URL``) or a local folder (``B24C_QDRANT_PATH``, qdrant-client's
local mode: one process only; ``:memory:`` for tests).

The collection's dimension is set by the first vectors uploaded; vectors of another dimension (an
embedder switched without re-ingesting) are refused with a clear error instead of mixed in.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence

import numpy as np
from qdrant_client import AsyncQdrantClient, models

from b24claude.errors import ConfigurationError
from b24claude.ports.knowledge import KnowledgeRepository, VectorHit, Vectors

log = logging.getLogger(__name__)

_FIELD = "member_id"
_CRC = "crc"  # crc32 of the stored vector's bytes: tells a reused chunk id from the point it had
_UPLOAD = 256


def _portals(member_ids: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key=_FIELD, match=models.MatchAny(any=list(member_ids)))]
    )


class QdrantVectorIndex:
    def __init__(
        self,
        repository: KnowledgeRepository,
        *,
        collection: str,
        url: str = "",
        path: str = "",
        api_key: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        if not url and not path:
            raise ConfigurationError("Qdrant: set B24C_QDRANT_URL or B24C_QDRANT_PATH")
        self._repo = repository
        self._collection = collection
        if url:
            self._client = AsyncQdrantClient(url=url, api_key=api_key or None, timeout=int(timeout_s))
        elif path == ":memory:":
            self._client = AsyncQdrantClient(location=":memory:")
        else:
            self._client = AsyncQdrantClient(path=path)
        self._server = bool(url)
        self._dim: int | None = None
        self._synced: dict[str, int] = {}  # portal -> the store generation its points match

    def invalidate(self, member_id: str) -> None:
        self._synced.pop(member_id, None)

    async def aclose(self) -> None:
        await self._client.close()

    async def _ensure_collection(self, dim: int) -> bool:
        """True when the collection holds ``dim``-dimensional vectors; creates it when missing."""
        if self._dim is not None:
            return self._dim == dim
        if await self._client.collection_exists(self._collection):
            info = await self._client.get_collection(self._collection)
            params = info.config.params.vectors
            size = params.size if isinstance(params, models.VectorParams) else None
            if size is None:
                raise ConfigurationError(f"Qdrant collection {self._collection} has named vectors: not ours")
            self._dim = int(size)
        else:
            await self._client.create_collection(
                self._collection,
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
            )
            if self._server:  # local mode filters by scanning and warns that it has no payload indexes
                await self._client.create_payload_index(
                    self._collection, field_name=_FIELD, field_schema=models.PayloadSchemaType.KEYWORD
                )
            self._dim = dim
            log.info("kb.qdrant.collection_created", extra={"collection": self._collection, "dim": dim})
        return self._dim == dim

    async def points(self, member_id: str) -> dict[int, int]:
        """The portal's points as Qdrant holds them now: id -> the checksum of its vector."""
        out: dict[int, int] = {}
        if self._dim is None and not await self._client.collection_exists(self._collection):
            return out
        offset: models.ExtendedPointId | None = None
        while True:
            points, offset = await self._client.scroll(
                self._collection,
                scroll_filter=_portals([member_id]),
                limit=1024,
                offset=offset,
                with_payload=[_CRC],
                with_vectors=False,
            )
            out.update({int(p.id): int((p.payload or {}).get(_CRC, -1)) for p in points})
            if offset is None:
                return out

    async def point_ids(self, member_id: str) -> set[int]:
        return set(await self.points(member_id))

    async def sync(self, member_id: str, dim: int) -> None:
        """Bring the portal's points to the store's chunks (see the module's doc)."""
        generation = await self._repo.generation(member_id)
        if self._synced.get(member_id) == generation:
            return
        ids, blobs = await self._repo.vectors(member_id)
        # A chunk id can come back with other content (SQLite reuses the highest ids after a delete):
        # a point is current only when its vector's checksum matches the stored one.
        wanted = {
            cid: (zlib.crc32(blob), blob)
            for cid, blob in zip(ids, blobs, strict=True)
            if len(blob) == dim * 4
        }
        if not await self._ensure_collection(dim):
            raise ConfigurationError(
                f"Qdrant collection {self._collection} holds {self._dim}-dimensional vectors, the embedder "
                f"makes {dim}: re-ingest into a new collection (B24C_QDRANT_COLLECTION)"
            )
        have = await self.points(member_id)
        gone = sorted(cid for cid in have if cid not in wanted)
        if gone:
            await self._client.delete(
                self._collection, points_selector=models.PointIdsList(points=list(gone))
            )
        stale = [cid for cid, (crc, _) in wanted.items() if have.get(cid) != crc]
        for start in range(0, len(stale), _UPLOAD):
            points = [
                models.PointStruct(
                    id=cid,
                    vector=np.frombuffer(wanted[cid][1], dtype="<f4").astype(float).tolist(),
                    payload={_FIELD: member_id, _CRC: wanted[cid][0]},
                )
                for cid in stale[start : start + _UPLOAD]
            ]
            await self._client.upsert(self._collection, points=points, wait=True)
        self._synced[member_id] = generation
        if gone or stale:
            log.info(
                "kb.qdrant.synced",
                extra={
                    "member_id": member_id,
                    "deleted": len(gone),
                    "uploaded": len(stale),
                    "generation": generation,
                },
            )

    async def search(self, member_ids: Sequence[str], vector: Vectors, *, limit: int) -> list[VectorHit]:
        query = vector.reshape(-1).astype(np.float32, copy=False)
        scopes = list(dict.fromkeys(member_ids))
        for member_id in scopes:
            await self.sync(member_id, len(query))
        if self._dim is None or not scopes:
            return []
        result = await self._client.query_points(
            self._collection,
            query=query.astype(float).tolist(),
            query_filter=_portals(scopes),
            limit=limit,
            with_payload=False,
        )
        return [VectorHit(int(p.id), float(p.score)) for p in result.points]
