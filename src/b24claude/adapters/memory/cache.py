"""A bounded in-process TTL cache."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class MemoryCache:
    def __init__(self, *, max_items: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max = max_items
        self._now = now

    async def get(self, key: str) -> Any | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires < self._now():
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None:
        self._data[key] = (self._now() + ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def snapshot(self) -> dict[str, Any]:
        """Every live key and value (for inspection: diagnostics and the privacy tests)."""
        now = self._now()
        return {k: v for k, (expires, v) in self._data.items() if expires >= now}
