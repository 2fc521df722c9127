"""CRM changes through Bitrix24's offline events: nothing the portal queued is lost, even while the
service is down (reference/bitrix24.md §2.3).

Per installed portal, once per process: bind the CRM events as offline events (and
``ONOFFLINEEVENT`` to our events URL) where missing, then re-read every batch still reserved
(``event.offline.list`` shows its ``PROCESS_ID``: a previous process read it and died before
clearing). Then, on every ``ONOFFLINEEVENT`` and on a timer (the safety net: the notification is a
plain online event, pushed once): ``event.offline.get {clear: 0}`` reserves a batch, the batch is
stored in the inbox (committed), and only then ``event.offline.clear {process_id}`` deletes it
from the portal. A crash anywhere in between leaves the batch reserved, to be re-read; the inbox
key (the record's ID) makes a re-read batch a duplicate, so each change is processed once.
Records we cannot read (no entity id) are marked with ``event.offline.error``, not lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from b24claude.errors import B24ClaudeError
from b24claude.events.parse import CRM_OFFLINE_EVENTS
from b24claude.inbox.service import InboxService
from b24claude.ports.bitrix import OfflineBatch, OfflineEvent, OfflineEventQueue
from b24claude.ports.store import PortalRepository

log = logging.getLogger("b24claude.offline")

BATCH = 50  # event.offline.get's own default and our ceiling


class OfflineEventPuller:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        queue: OfflineEventQueue,
        inbox: InboxService,
        notify_url: str,
        interval_s: float = 60.0,
        events: Sequence[str] = CRM_OFFLINE_EVENTS,
    ) -> None:
        self._portals = portals
        self._queue = queue
        self._inbox = inbox
        self._notify_url = notify_url
        self._interval = interval_s
        self._events = tuple(events)
        self._ready: set[str] = set()  # portals bound and recovered by this process
        self._wake = asyncio.Event()
        self._stopping = False
        self.stored = 0
        self.recovered_batches = 0

    def wake(self, member_id: str = "") -> None:
        self._wake.set()

    async def poll_once(self) -> int:
        """Read every installed portal's queue dry; returns how many new events were stored."""
        stored = 0
        for portal in await self._portals.list_installed():
            try:
                stored += await self._poll_portal(portal.member_id)
            except B24ClaudeError as exc:
                # ACCESS_DENIED (the stored token is not an admin's), WRONG_LICENSE (no
                # rest_offline_extended), the portal's limit: try again on the next round.
                log.warning("offline.fetch.failed", extra={"member_id": portal.member_id, "code": exc.code})
        self.stored += stored
        return stored

    async def _poll_portal(self, member_id: str) -> int:
        total = 0
        if member_id not in self._ready:
            added = await self._queue.bind_offline(
                member_id, events=self._events, notify_url=self._notify_url
            )
            if added:
                log.info("offline.bound", extra={"member_id": member_id, "count": added})
            for pid in await self._queue.offline_reserved(member_id):
                batch = await self._queue.offline_get(member_id, process_id=pid, limit=BATCH)
                total += await self._settle(member_id, OfflineBatch(pid, batch.events))
                self.recovered_batches += 1
                log.info(
                    "offline.batch.recovered", extra={"member_id": member_id, "count": len(batch.events)}
                )
            self._ready.add(member_id)
        while True:
            batch = await self._queue.offline_get(member_id, limit=BATCH)
            if not batch.events:
                return total
            total += await self._settle(member_id, batch)
            if len(batch.events) < BATCH:
                return total

    async def _settle(self, member_id: str, batch: OfflineBatch) -> int:
        """Store, then clear (or mark what cannot be read as erroneous)."""
        good: list[OfflineEvent] = []
        bad: list[str] = []
        for ev in batch.events:
            fields = ev.data.get("FIELDS")
            if ev.name in self._events and isinstance(fields, dict) and str(fields.get("ID", "")).isdigit():
                good.append(ev)
            else:
                bad.append(ev.message_id)
        stored = await self._inbox.accept_offline(member_id, good)  # committed before the clear
        if batch.process_id:
            if bad:
                log.warning("offline.event.unreadable", extra={"member_id": member_id, "count": len(bad)})
                await self._queue.offline_error(member_id, batch.process_id, bad)
            await self._queue.offline_clear(member_id, batch.process_id)
        return stored

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.poll_once()
            except Exception:
                log.exception("offline.crashed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
