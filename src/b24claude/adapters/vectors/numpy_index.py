"""Brute-force cosine search over a portal's chunk vectors, held in memory per portal.

A portal's matrix is loaded from the store the first time it is searched and again whenever the
store's generation for that portal changes (a document added, replaced, removed), so a search never
uses vectors of a version the store no longer has. 10,000 passages × 1,024 floats is 40 MB and one
matrix-vector product of ~1 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from b24claude.ports.knowledge import KnowledgeRepository, VectorHit, Vectors


@dataclass
class _Loaded:
    generation: int
    ids: npt.NDArray[np.int64]
    matrix: Vectors


class NumpyVectorIndex:
    def __init__(self, repository: KnowledgeRepository, *, dim: int) -> None:
        self._repo = repository
        self._dim = dim
        self._loaded: dict[str, _Loaded] = {}

    def invalidate(self, member_id: str) -> None:
        self._loaded.pop(member_id, None)

    async def _portal(self, member_id: str) -> _Loaded:
        generation = await self._repo.generation(member_id)
        loaded = self._loaded.get(member_id)
        if loaded is not None and loaded.generation == generation:
            return loaded
        ids, blobs = await self._repo.vectors(member_id)
        if blobs:
            matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), self._dim)
        else:
            matrix = np.zeros((0, self._dim), dtype=np.float32)
        loaded = _Loaded(generation, np.asarray(ids, dtype=np.int64), matrix.astype(np.float32, copy=False))
        self._loaded[member_id] = loaded
        return loaded

    async def search(self, member_ids: Sequence[str], vector: Vectors, *, limit: int) -> list[VectorHit]:
        hits: list[VectorHit] = []
        query = vector.reshape(-1).astype(np.float32, copy=False)
        for member_id in dict.fromkeys(member_ids):
            loaded = await self._portal(member_id)
            if not len(loaded.ids):
                continue
            scores = loaded.matrix @ query
            k = min(limit, len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            hits.extend(VectorHit(int(loaded.ids[i]), float(scores[i])) for i in top)
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]
