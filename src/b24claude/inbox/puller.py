"""The imbot.v2 fetch loop: pull events, store them, and only then acknowledge the offset.

``imbot.v2.Event.get`` acknowledges every event below the ``offset`` passed (reference §4.4), so
the offset we pass is always one whose events are already committed in the inbox.
"""

from __future__ import annotations

import asyncio
import logging

from b24claude.errors import B24ClaudeError
from b24claude.inbox.service import InboxService
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, ChatGateway
from b24claude.ports.store import PortalRepository

log = logging.getLogger("b24claude.puller")


class EventPuller:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        chat: ChatGateway,
        inbox: InboxService,
        clock: Clock,
        idle_interval_s: float = 2.0,
        min_interval_s: float = 0.2,
        batch: int = 100,
    ) -> None:
        self._portals = portals
        self._chat = chat
        self._inbox = inbox
        self._clock = clock
        self._idle = idle_interval_s
        self._min = min_interval_s
        self._batch = batch
        self._stopping = False
        self._wake = asyncio.Event()
        self.fetches = 0

    def wake(self) -> None:
        self._wake.set()

    async def poll_once(self) -> int:
        """One fetch for every installed v2 portal; returns how many events were stored."""
        stored = 0
        for portal in await self._portals.list_installed():
            if portal.bot_api != "v2" or not portal.bot_id:
                continue
            stored += await self._poll_portal(
                portal.member_id, BotIdentity(portal.bot_id, portal.bot_code, "v2"), portal.event_offset
            )
        return stored

    async def _poll_portal(self, member_id: str, bot: BotIdentity, offset: int | None) -> int:
        total = 0
        while True:
            self.fetches += 1
            page = await self._chat.fetch_events(member_id, bot, offset=offset, limit=self._batch)
            if page.events:
                total += await self._inbox.accept_fetched(member_id, bot.bot_id, page.events)
            if page.next_offset is not None and page.next_offset != offset:
                offset = page.next_offset
                await self._portals.set_event_offset(member_id, offset)
            if not page.has_more:
                return total

    async def run(self) -> None:
        delay = self._min
        while not self._stopping:
            try:
                got = await self.poll_once()
            except B24ClaudeError as exc:
                log.warning("puller.fetch.failed", extra={"code": exc.code})
                got = 0
            except Exception:
                log.exception("puller.crashed")
                got = 0
            delay = self._min if got else min(self._idle, delay * 2)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
