"""The embedded task queue: an in-process priority heap fed by the ingress and the inbox feeder.

It holds nothing durable (a lost process loses only announcements; the inbox keeps the rows and the
feeder announces them again), so ``ack`` has nothing to confirm. Highest priority first, then
first in, first out: the same order RabbitMQ's priority queue delivers in.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

from b24claude.ports.queue import MAX_PRIORITY, ReadyRow


@dataclass(frozen=True, slots=True)
class MemoryDelivery:
    row: ReadyRow

    async def ack(self) -> None:
        return None


class MemoryQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, ReadyRow]] = []
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._closed = False

    async def startup(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        self._closed = True
        self._ready.set()

    async def ping(self) -> None:
        return None  # in this process: reachable while the process is

    async def publish(self, rows: list[ReadyRow]) -> None:
        for row in rows:
            priority = min(MAX_PRIORITY, max(0, row.priority))
            heapq.heappush(self._heap, (-priority, next(self._seq), row))
        if rows:
            self._ready.set()

    async def consume(self) -> AsyncIterator[MemoryDelivery]:
        while not self._closed:
            if not self._heap:
                self._ready.clear()
                await self._ready.wait()
                continue
            _, _, row = heapq.heappop(self._heap)
            yield MemoryDelivery(row)

    def __len__(self) -> int:
        return len(self._heap)
