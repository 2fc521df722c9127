"""A small key-value cache with TTL: in memory by default, Redis for scale-out."""

from __future__ import annotations

from typing import Any, Protocol


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None: ...

    async def delete(self, key: str) -> None: ...
