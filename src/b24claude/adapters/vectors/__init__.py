"""Offline vectors: the hashed character n-gram embedder and an in-memory (numpy) vector index."""

from b24claude.adapters.vectors.hashed import HashedNgramEmbedder
from b24claude.adapters.vectors.numpy_index import NumpyVectorIndex

__all__ = ["HashedNgramEmbedder", "NumpyVectorIndex"]
