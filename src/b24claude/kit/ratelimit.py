"""A token bucket per key (e.g. per portal), for limits we enforce on others at our edges.

Each key holds up to ``burst`` tokens and regains ``rate_per_s`` per second; a request takes one.
Keys are only created for callers that already proved who they are, so the table stays as small
as the set of installed portals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class KeyedTokenBucket:
    def __init__(self, *, rate_per_s: float, burst: int, monotonic: Callable[[], float]) -> None:
        """``rate_per_s <= 0`` disables the limit."""
        self.rate_per_s = rate_per_s
        self.burst = max(1, burst)
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when granted, else the seconds until one will be there."""
        if self.rate_per_s <= 0:
            return 0.0
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        elif now > bucket.updated:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s
