"""The in-process worker: claims stored events, dispatches them, records the outcome.

At-least-once: a row is marked done only after its handler returned; a crash leaves it
``processing`` and :meth:`InboxWorker.run` puts such rows back to ``pending`` on start. Handlers are
idempotent (effects are recorded per inbox row), so a replay changes nothing that already happened.
One dialogue is processed at a time (rows are claimed at most one per dialogue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from b24claude.dispatch import Context, Dispatcher, Handled
from b24claude.errors import B24ClaudeError
from b24claude.events.parse import update_from_payload
from b24claude.kit.backoff import backoff_delay
from b24claude.kit.clock import Clock
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
        concurrency: int = 8,
        max_attempts: int = 8,
        idle_poll_s: float = 1.0,
    ) -> None:
        self._inbox = inbox
        self._portals = portals
        self._dispatcher = dispatcher
        self._clock = clock
        self._concurrency = max(1, concurrency)
        self._max_attempts = max_attempts
        self._idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._running: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self._stopping = False
        self.processed = 0

    def wake(self) -> None:
        """Called after new rows were committed."""
        self._wake.set()

    async def run(self) -> None:
        recovered = await self._inbox.requeue_processing()
        if recovered:
            log.info("inbox.worker.resumed", extra={"count": recovered})
        while not self._stopping:
            started = await self._fill()
            if started == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll_s)

    async def _fill(self) -> int:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return 0
        busy = [d for d, _ in self._running.values() if d]
        try:
            items = await self._inbox.claim(limit=free, now=self._clock.now(), busy_dialogs=busy)
        except B24ClaudeError:
            log.exception("inbox.worker.claim_failed")
            await asyncio.sleep(self._idle_poll_s)
            return 0
        for item in items:
            task = asyncio.create_task(self._process(item), name=f"inbox-{item.id}")
            self._running[item.id] = (item.dialog_key, task)
            task.add_done_callback(self._on_done(item.id))
        return len(items)

    def _on_done(self, item_id: int) -> Callable[[asyncio.Task[None]], None]:
        return lambda _task: self._finished(item_id)

    def _finished(self, item_id: int) -> None:
        self._running.pop(item_id, None)
        self._wake.set()

    async def _process(self, item: InboxItem) -> None:
        attempt = item.attempts + 1
        try:
            portal = await self._portals.get(item.member_id)
            if portal is None:
                await self._inbox.mark_failed(item.id, error="portal not installed")
                return
            update = update_from_payload(item.member_id, item.payload)
            outcome = await self._dispatcher.feed(
                update, Context(portal=portal, inbox_id=item.id, attempt=attempt)
            )
            await self._inbox.mark_done(item.id, status="done" if outcome is Handled.DONE else "ignored")
            self.processed += 1
        except asyncio.CancelledError:
            raise  # stopping: the row stays 'processing' and is resumed on the next start
        except B24ClaudeError as exc:
            await self._failed(
                item, attempt, exc, retryable=exc.retryable, retry_after=getattr(exc, "retry_after", None)
            )
        except Exception as exc:  # a bug must not kill the worker; retry a few times, then park it
            log.exception(
                "inbox.handler.crashed", extra={"inbox_id": item.id, "member_id": item.member_id, "kind": item.kind}
            )
            await self._failed(item, attempt, exc, retryable=True, retry_after=None)

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

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        tasks = [t for _, t in self._running.values()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def busy(self) -> int:
        return len(self._running)
