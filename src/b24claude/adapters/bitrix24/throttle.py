"""A client-side leaky bucket per portal mirroring Bitrix24's own (reference/bitrix24.md §3.1).

The server adds 1 per HTTP request (a ``batch`` is one) and rejects with 503 QUERY_LIMIT_EXCEEDED
when the counter would pass X; the counter drains Y per second. We keep an *upper bound* of the
server's counter and make every request wait until it fits:

* a request in flight counts a full 1 (we do not know when it reached the server);
* a finished request is added at its response time, the latest moment it can have arrived, and
  drains from then on.

Counting at send time instead looks the same on paper but lets network delay compress arrivals:
a burst whose first requests reach the server late leaves the server's bucket empty (its drain
wasted) while ours has drained, and the paced requests behind then overflow it.
Waiters queue FIFO on a per-portal lock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from b24claude.kit.clock import Clock

# Requests kept in hand below the server's X: other clients on the same IP, clock disagreements.
DEFAULT_MARGIN = 2
_EPSILON = 1e-6
# Floor of one wait, so a waiter re-checking for in-flight requests never spins.
_MIN_WAIT_S = 0.01


@dataclass(slots=True)
class LeakyBucket:
    """Counter that drains ``rate`` per second; ``capacity`` is what we allow ourselves."""

    capacity: float
    rate: float
    level: float = 0.0
    updated: float = 0.0
    in_flight: int = 0

    def _drain(self, now: float) -> None:
        if now > self.updated:
            self.level = max(0.0, self.level - (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one more request fits, assuming the ones in flight finish at once."""
        self._drain(now)
        excess = self.level + self.in_flight + 1.0 - self.capacity
        # Float dust after an exact wait must not become a sleep too small to move the clock.
        return excess / self.rate if excess > _EPSILON else 0.0

    def start(self) -> None:
        self.in_flight += 1

    def finish(self, now: float) -> None:
        self._drain(now)
        self.in_flight = max(0, self.in_flight - 1)
        self.level += 1.0

    def fill(self, now: float) -> None:
        """The server said its bucket is full: assume it is."""
        self._drain(now)
        self.level = max(self.level, self.capacity)

    def peek(self, now: float) -> float:
        """Finished requests still counted at ``now`` (tests, metrics)."""
        self._drain(now)
        return self.level


class PortalThrottle:
    """One :class:`LeakyBucket` per portal; ``acquire`` waits on the injected clock.

    Every ``acquire`` must be paired with one ``release`` once the response (or the error) is in.
    """

    def __init__(self, clock: Clock, *, rate_per_s: float, burst: int, margin: int = DEFAULT_MARGIN) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._clock = clock
        self.rate_per_s = rate_per_s
        self.capacity = float(max(1, burst - margin))
        self._buckets: dict[str, LeakyBucket] = {}
        self._queues: dict[str, asyncio.Lock] = {}

    def bucket(self, key: str) -> LeakyBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = LeakyBucket(
                self.capacity, self.rate_per_s, updated=self._clock.monotonic()
            )
        return bucket

    async def acquire(self, key: str) -> float:
        """Wait until one more request to portal ``key`` fits; returns the seconds waited."""
        bucket = self.bucket(key)
        waited = 0.0
        async with self._queues.setdefault(key, asyncio.Lock()):
            while (wait := bucket.wait_time(self._clock.monotonic())) > 0:
                wait = max(wait, _MIN_WAIT_S)
                await self._clock.sleep(wait)
                waited += wait
            bucket.start()
        return waited

    def release(self, key: str) -> None:
        self.bucket(key).finish(self._clock.monotonic())

    def mark_full(self, key: str) -> None:
        self.bucket(key).fill(self._clock.monotonic())
