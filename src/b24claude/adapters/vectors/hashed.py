"""A model-free embedder: words and their character 3- and 4-grams hashed into a fixed-size vector.

Why this is the offline default (README "Knowledge base"): nothing to download or ship (the registry
has no multilingual sentence model whose weights come inside a wheel; natasha's navec vectors are
Russian-only and 50 MB), deterministic, ~20 µs per passage, and sub-word n-grams match what BM25 on
whole lemmas misses: typos the vocabulary repair did not catch, compounds ("кофемашина" ~ "кофе
машина"), and stems pymorphy3 lemmatises differently. It sees the same lemmas as BM25, so English
goes through the lexicon either way. Voyage or a local model plug into the same ``Embedder`` port.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

import numpy as np

from b24claude.ports.knowledge import EmbedPurpose, Vectors

_WORD_WEIGHT = 1.0
_GRAM_WEIGHT = 0.35


class HashedNgramEmbedder:
    name = "hashed-ngrams-v1"
    lemmatised = True

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self._cache: dict[str, list[tuple[int, float]]] = {}

    def _features(self, word: str) -> list[tuple[int, float]]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        feats: list[tuple[int, float]] = [(zlib.crc32(f"w:{word}".encode()), _WORD_WEIGHT)]
        padded = f"<{word}>"
        for n in (3, 4):
            for i in range(len(padded) - n + 1):
                feats.append((zlib.crc32(padded[i : i + n].encode()), _GRAM_WEIGHT))
        if len(self._cache) < 500_000:
            self._cache[word] = feats
        return feats

    async def embed(self, texts: Sequence[str], *, purpose: EmbedPurpose = "document") -> Vectors:
        """Queries and documents alike (no prompt to differ by); a batch of documents in a thread."""
        if len(texts) > 8:
            return await asyncio.to_thread(self.embed_now, texts)
        return self.embed_now(texts)

    async def aclose(self) -> None:
        return None

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vec = out[row]
            for word in text.split():
                for h, weight in self._features(word):
                    vec[h % self.dim] += weight if (h >> 16) & 1 else -weight
            norm = float(np.linalg.norm(vec))
            if norm > 0:
                vec /= norm
        return out
