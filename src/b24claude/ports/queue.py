"""The task queue: carries only "inbox row N is ready" (taskiq's shape: kick, then listen and ack).

The inbox is the source of truth: a row is committed before it is published, a message is acked
only after the row's outcome was recorded, and a lost or duplicated message changes nothing (the
inbox feeder republishes what waits too long; a worker that cannot claim a row drops its message).
The embedded default is an in-process queue (``adapters/memory/queue.py``); scale-out uses RabbitMQ
through taskiq (``adapters/rabbitmq/queue.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

# Priorities 0..MAX_PRIORITY (RabbitMQ's x-max-priority; higher goes first).
MAX_PRIORITY = 9


@dataclass(frozen=True, slots=True)
class ReadyRow:
    inbox_id: int
    priority: int = 0


class Delivery(Protocol):
    @property
    def row(self) -> ReadyRow: ...

    async def ack(self) -> None:
        """The row's outcome is recorded (done, retry or failed): the message may go."""
        ...


class TaskQueue(Protocol):
    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def ping(self) -> None:
        """Raise QueueError when the broker does not answer (readiness)."""
        ...

    async def publish(self, rows: list[ReadyRow]) -> None:
        """Announce committed rows (never before their commit)."""
        ...

    def consume(self) -> AsyncIterator[Delivery]:
        """Deliveries, highest priority first, each to one consumer at a time until acked."""
        ...
