"""In-memory implementations of the infrastructure ports (the embedded default)."""

from b24claude.adapters.memory.cache import MemoryCache
from b24claude.adapters.memory.queue import MemoryQueue

__all__ = ["MemoryCache", "MemoryQueue"]
