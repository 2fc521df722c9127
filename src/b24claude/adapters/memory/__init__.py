"""In-memory implementations of the infrastructure ports (the embedded default)."""

from b24claude.adapters.memory.cache import MemoryCache

__all__ = ["MemoryCache"]
