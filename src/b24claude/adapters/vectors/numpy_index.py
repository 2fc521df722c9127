"""Brute-force cosine search over a portal's chunk vectors, held in memory per portal.

A portal's matrix is loaded from the store the first time it is searched and again whenever the
store's generation for that portal changes (a document added, replaced, removed), so a search never
uses vectors of a version the store no longer has. 10,000 passages × 1,024 floats is 40 MB and one
matrix-vector product of ~1 ms. The dimension is the query's: rows of another length (stored by
another embedder before a switch) are left out rather than compared.
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
    def __init__(self, repository: KnowledgeRepository) -> None:
        self._repo = repository
        self._loaded: dict[tuple[str, int], _Loaded] = {}

    def invalidate(self, member_id: str) -> None:
        for key in [k for k in self._loaded if k[0] == member_id]:
            del self._loaded[key]

    async def aclose(self) -> None:
        self._loaded.clear()

    async def _portal(self, member_id: str, dim: int) -> _Loaded:
        generation = await self._repo.generation(member_id)
        loaded = self._loaded.get((member_id, dim))
        if loaded is not None and loaded.generation == generation:
            return loaded
        ids, blobs = await self._repo.vectors(member_id)
        keep = [i for i, b in enumerate(blobs) if len(b) == dim * 4]
        if keep:
            matrix = np.frombuffer(b"".join(blobs[i] for i in keep), dtype="<f4").reshape(len(keep), dim)
        else:
            matrix = np.zeros((0, dim), dtype=np.float32)
        loaded = _Loaded(
            generation,
            np.asarray([ids[i] for i in keep], dtype=np.int64),
            matrix.astype(np.float32, copy=False),
        )
        self.invalidate(member_id)
        self._loaded[(member_id, dim)] = loaded
        return loaded

    async def search(self, member_ids: Sequence[str], vector: Vectors, *, limit: int) -> list[VectorHit]:
        hits: list[VectorHit] = []
        query = vector.reshape(-1).astype(np.float32, copy=False)
        for member_id in dict.fromkeys(member_ids):
            loaded = await self._portal(member_id, len(query))
            if not len(loaded.ids):
                continue
            scores = loaded.matrix @ query
            k = min(limit, len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            hits.extend(VectorHit(int(loaded.ids[i]), float(scores[i])) for i in top)
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]
