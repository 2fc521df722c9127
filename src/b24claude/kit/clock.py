"""Injectable time, so tests move time without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``factor`` times faster than real time (tests and benchmarks of rate limits).

    Share one instance between the app and the portal emulator so both see the same time.
    """

    def __init__(self, factor: float, *, start: float | None = None) -> None:
        self.factor = factor
        self._t0 = time.time() if start is None else start
        self._m0 = time.monotonic()

    def _elapsed(self) -> float:
        return (time.monotonic() - self._m0) * self.factor

    def now(self) -> float:
        return self._t0 + self._elapsed()

    def monotonic(self) -> float:
        return self._m0 + self._elapsed()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)
