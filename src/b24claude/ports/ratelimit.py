"""The client-side limit towards a portal's REST API (a leaky bucket per portal).

In memory by default (``adapters/bitrix24/throttle.py``); shared through Redis by every process of
a scale-out deployment (``adapters/redis/throttle.py``), since Bitrix24 counts per portal, not per
process.
"""

from __future__ import annotations

from typing import Protocol


class RequestThrottle(Protocol):
    async def acquire(self, key: str) -> float:
        """Wait until one more request to portal ``key`` fits; returns the seconds waited."""
        ...

    def release(self, key: str) -> None:
        """The response (or the error) of one acquired request is in."""
        ...

    def mark_full(self, key: str) -> None:
        """The server said its bucket is full: assume it is."""
        ...
