"""The inbox feeder: the queue's safety net, and how ordinary traffic ages past VIP traffic.

Every worker process runs one. Each sweep (every ``interval_s``, or at once when woken):

1. rows whose claim lease expired (their worker died) go back to ``pending``;
2. rows that could be claimed now but were last announced ``reannounce_s`` ago or longer — a lost
   broker message, a message dropped because its dialogue was busy, a retry come due — are
   announced again, with their priority raised by the time they waited (aging).

Concurrent feeders get disjoint rows (``ready_heads``), and a duplicate announcement is harmless:
the worker that cannot claim the row drops the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from b24claude.errors import B24ClaudeError
from b24claude.inbox.priority import PriorityPolicy
from b24claude.kit.clock import Clock
from b24claude.ports.queue import ReadyRow, TaskQueue
from b24claude.ports.store import InboxItem, InboxRepository

log = logging.getLogger("b24claude.feeder")


class InboxFeeder:
    def __init__(
        self,
        *,
        inbox: InboxRepository,
        queue: TaskQueue,
        policy: PriorityPolicy,
        clock: Clock,
        interval_s: float = 1.0,
        reannounce_s: float = 10.0,
        batch: int = 500,
    ) -> None:
        self._inbox = inbox
        self._queue = queue
        self._policy = policy
        self._clock = clock
        self._interval_s = interval_s
        self._reannounce_s = reannounce_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self.announced = 0

    def wake(self) -> None:
        self._wake.set()

    def ready_row(self, item: InboxItem, now: float) -> ReadyRow:
        return ReadyRow(item.id, self._policy.aged(item.priority, now - item.received_at))

    async def sweep_once(self, *, everything: bool = False) -> int:
        """One sweep; ``everything``: announce every claimable row (a starting process knows of no
        announcement still in a queue). Returns how many rows were announced."""
        now = self._clock.now()
        requeued = await self._inbox.requeue_processing(stale_before=now)
        if requeued:
            log.warning("inbox.lease_expired", extra={"count": requeued})
        before = now if everything else now - self._reannounce_s
        total = 0
        while True:
            heads = await self._inbox.ready_heads(now=now, announced_before=before, limit=self._batch)
            if heads:
                await self._queue.publish([self.ready_row(h, now) for h in heads])
                total += len(heads)
            if len(heads) < self._batch:
                break
        self.announced += total
        return total

    async def announce_next(self, dialog_key: str, *, at_least: int = 0, skip: int = 0) -> None:
        """A row of ``dialog_key`` finished: announce the dialogue's next row now (its own message
        may have been dropped while the dialogue was busy). ``at_least``: the priority of a later
        row of the dialogue that waits for this one; ``skip``: not when the head is that row."""
        if not dialog_key:
            return
        now = self._clock.now()
        heads = await self._inbox.ready_heads(
            now=now, announced_before=now + 1e9, limit=1, dialog_key=dialog_key
        )
        heads = [h for h in heads if h.id != skip]
        if heads:
            rows = [self.ready_row(h, now) for h in heads]
            await self._queue.publish([ReadyRow(r.inbox_id, max(r.priority, at_least)) for r in rows])

    async def run(self) -> None:
        first = True
        while not self._stopping:
            try:
                await self.sweep_once(everything=first)
                first = False
            except B24ClaudeError as exc:
                log.warning("feeder.sweep_failed", extra={"error": type(exc).__name__, "code": exc.code})
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
