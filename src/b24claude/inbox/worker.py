"""The worker: takes "row N is ready" from the queue, claims the row, dispatches it, records the
outcome, and only then acks the message.

The same code runs in the embedded default (in-process queue, inside ``b24claude serve``) and in
scale-out (RabbitMQ, any number of ``b24claude worker`` processes). At-least-once: a row is marked
done only after its handler returned. A claim holds a lease, renewed while the handler runs; a
worker that dies stops renewing, and once the lease expires the feeder puts the row back to
``pending`` (a starting embedded process, the inbox's only owner, takes everything back at once).
Handlers are idempotent (effects are recorded per inbox row), so a replay changes nothing that
already happened. One row per dialogue at a time, oldest first, across all workers: ``claim_row``
refuses a row whose dialogue is busy or has an older pending row, and the finishing worker
announces the dialogue's next row.
"""

from __future__ import annotations

import asyncio
import logging

from b24claude.dispatch import Context, Dispatcher, Handled
from b24claude.errors import B24ClaudeError
from b24claude.events.parse import update_from_payload
from b24claude.inbox.coalesce import Burst, Coalescer
from b24claude.inbox.feeder import InboxFeeder
from b24claude.kit.backoff import backoff_delay
from b24claude.kit.clock import Clock
from b24claude.ports.queue import Delivery, ReadyRow, TaskQueue
from b24claude.ports.store import InboxItem, InboxRepository, PortalRepository

log = logging.getLogger("b24claude.worker")


class InboxWorker:
    def __init__(
        self,
        *,
        inbox: InboxRepository,
        portals: PortalRepository,
        dispatcher: Dispatcher,
        clock: Clock,
        queue: TaskQueue,
        feeder: InboxFeeder,
        concurrency: int = 8,
        max_attempts: int = 8,
        lease_s: float = 60.0,
        exclusive: bool = True,
        coalescer: Coalescer | None = None,
    ) -> None:
        """``exclusive``: this process is the inbox's only worker (the embedded default), so rows
        left ``processing`` at start are a previous run's and resume at once; otherwise only rows
        whose lease expired are taken back."""
        self._inbox = inbox
        self._portals = portals
        self._dispatcher = dispatcher
        self._clock = clock
        self._queue = queue
        self._feeder = feeder
        self._concurrency = max(1, concurrency)
        self._max_attempts = max_attempts
        self._lease_s = lease_s
        self._exclusive = exclusive
        self._coalescer = coalescer  # None: every message answered on its own
        self._slots = asyncio.Semaphore(self._concurrency)
        self._running: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._feeding: asyncio.Task[None] | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._stopping = False
        self.processed = 0

    def wake(self) -> None:
        """Called after new rows were committed without an announcement: the feeder looks now."""
        self._feeder.wake()

    async def run(self) -> None:
        self._consuming = asyncio.current_task()
        stale_before = None if self._exclusive else self._clock.now()
        recovered = await self._inbox.requeue_processing(stale_before=stale_before)
        if recovered:
            log.info("inbox.worker.resumed", extra={"count": recovered})
        self._feeding = asyncio.create_task(self._feeder.run(), name="inbox-feeder")
        deliveries = self._queue.consume().__aiter__()
        while not self._stopping:
            await self._slots.acquire()  # a free slot first: the queue keeps what we cannot start
            try:
                delivery = await anext(deliveries)
            except StopAsyncIteration:
                self._slots.release()
                break
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._handle(delivery), name=f"inbox-row-{delivery.row.inbox_id}")
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            item = await self._claim(delivery.row.inbox_id)
            if item is not None:
                await self._run_leased(item)
            elif delivery.row.priority > 0:
                await self._lift_head(delivery.row)
        except asyncio.CancelledError:
            self._slots.release()
            raise  # stopping: no ack, so the broker hands the message to another worker
        self._slots.release()
        try:
            await delivery.ack()
        except B24ClaudeError:
            log.warning("queue.ack_failed", extra={"inbox_id": delivery.row.inbox_id})

    async def _claim(self, item_id: int) -> InboxItem | None:
        """The row, claimed with a lease; ``None`` when it is not ours to run now (done, taken by
        another worker, or behind an older row of its dialogue: announced again later)."""
        now = self._clock.now()
        try:
            return await self._inbox.claim_row(item_id, now=now, lease_until=now + self._lease_s)
        except B24ClaudeError:
            log.exception("inbox.worker.claim_failed", extra={"inbox_id": item_id})
            return None  # the feeder announces the row again

    async def _lift_head(self, row: ReadyRow) -> None:
        """A VIP or urgent row waits behind an older row of its dialogue (a join event, an ordinary
        message): that row goes ahead with this priority, or the urgent one would wait its turn."""
        try:
            item = await self._inbox.get(row.inbox_id)
            if item is not None and item.status == "pending" and item.dialog_key:
                await self._feeder.announce_next(item.dialog_key, at_least=row.priority, skip=row.inbox_id)
        except B24ClaudeError:
            log.warning("inbox.worker.lift_failed", extra={"inbox_id": row.inbox_id})

    async def _run_leased(self, item: InboxItem) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running[item.id] = (item.dialog_key, task)
        leased = [item.id]  # the head, then the rows coalesced with it (one lease for the burst)
        keeper = asyncio.create_task(self._keep_lease(leased), name=f"lease-{item.id}")
        try:
            await self._process(item, leased)
        finally:
            keeper.cancel()
            self._running.pop(item.id, None)
        try:
            await self._feeder.announce_next(item.dialog_key)
        except B24ClaudeError:
            log.warning("inbox.worker.announce_failed", extra={"dialog_key": item.dialog_key})

    async def _keep_lease(self, item_ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            for item_id in list(item_ids):
                try:
                    if not await self._inbox.renew_lease(
                        item_id, lease_until=self._clock.now() + self._lease_s
                    ):
                        log.warning("inbox.lease_lost", extra={"inbox_id": item_id})
                        return
                except B24ClaudeError:
                    log.warning("inbox.lease_renew_failed", extra={"inbox_id": item_id})

    async def _process(self, item: InboxItem, leased: list[int]) -> None:
        attempt = item.attempts + 1
        burst = Burst(item)
        try:
            portal = await self._portals.get(item.member_id)
            if portal is None:
                await self._inbox.mark_failed(item.id, error="portal not installed")
                return
            if self._coalescer is not None:
                burst = await self._coalescer.gather(item, lease_until=self._clock.now() + self._lease_s)
                leased.extend(r.id for r in burst.claimed)
            # A burst is dispatched as its newest message with the others before it (inbox.coalesce).
            updates = [update_from_payload(r.member_id, r.payload) for r in burst.rows]
            outcome = await self._dispatcher.feed(
                updates[-1],
                Context(portal=portal, inbox_id=item.id, attempt=attempt, earlier=tuple(updates[:-1])),
            )
            for row in burst.claimed:
                await self._inbox.mark_done(row.id)
            await self._inbox.mark_done(item.id, status="done" if outcome is Handled.DONE else "ignored")
            self.processed += 1 + len(burst.claimed)
        except asyncio.CancelledError:
            raise  # stopping: the row stays 'processing' and is resumed on the next start
        except B24ClaudeError as exc:
            for row in (*burst.claimed, item):  # the head last: it re-forms the burst when retried
                await self._failed(
                    row, attempt, exc, retryable=exc.retryable, retry_after=getattr(exc, "retry_after", None)
                )
        except Exception as exc:  # a bug must not kill the worker; retry a few times, then park it
            log.exception(
                "inbox.handler.crashed",
                extra={"inbox_id": item.id, "member_id": item.member_id, "kind": item.kind},
            )
            for row in (*burst.claimed, item):
                await self._failed(row, attempt, exc, retryable=True, retry_after=None)

    async def _failed(
        self, item: InboxItem, attempt: int, exc: BaseException, *, retryable: bool, retry_after: float | None
    ) -> None:
        reason = f"{type(exc).__name__}: {getattr(exc, 'code', '')} {str(exc)[:200]}"
        try:
            if retryable and attempt < self._max_attempts:
                delay = retry_after if retry_after is not None else backoff_delay(attempt, base=1.0, cap=60.0)
                await self._inbox.mark_retry(item.id, error=reason, not_before=self._clock.now() + delay)
                log.warning(
                    "inbox.event.retry",
                    extra={
                        "inbox_id": item.id,
                        "member_id": item.member_id,
                        "attempt": attempt,
                        "delay": delay,
                    },
                )
            else:
                await self._inbox.mark_failed(item.id, error=reason)
                # Not the exception's message: it may quote what the customer wrote or what an API
                # answered; the row's last_error keeps it (purged with the inbox).
                log.error(
                    "inbox.event.failed",
                    extra={
                        "inbox_id": item.id,
                        "member_id": item.member_id,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                        "code": getattr(exc, "code", ""),
                    },
                )
        except B24ClaudeError:
            log.exception(
                "inbox.outcome.unrecorded",
                extra={"inbox_id": item.id, "member_id": item.member_id},
            )

    async def stop(self, *, deadline_s: float = 0.0) -> None:
        """Graceful drain: take no new work, let the rows in flight finish for up to ``deadline_s``,
        then cancel what still runs and release its rows (back to ``pending`` at once, no attempt
        counted), so a peer or the next start takes them up without waiting for their leases.
        Deliveries not acked go back to the broker with the connection."""
        self._stopping = True
        await self._feeder.stop()
        consuming = self._consuming
        if consuming is not None and consuming is not asyncio.current_task() and not consuming.done():
            consuming.cancel()
            await asyncio.gather(consuming, return_exceptions=True)
        in_flight = list(self._handlers)
        if in_flight and deadline_s > 0:
            log.info("inbox.worker.draining", extra={"count": len(in_flight), "deadline_s": deadline_s})
            await asyncio.wait(in_flight, timeout=deadline_s)
        unfinished = list(self._running)
        tasks = [*self._handlers, *([self._feeding] if self._feeding else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if unfinished:
            try:
                released = await self._inbox.release(unfinished)
            except B24ClaudeError as exc:  # their leases expire instead
                log.warning("inbox.worker.release_failed", extra={"count": len(unfinished), "code": exc.code})
            else:
                log.warning("inbox.worker.released", extra={"count": released})
        log.info("inbox.worker.stopped", extra={"finished": len(in_flight) - len(unfinished)})

    @property
    def busy(self) -> int:
        return len(self._running)
