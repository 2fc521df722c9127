"""Reconciling a classic (v1) bot after downtime: the messages Bitrix24 could not deliver.

Bitrix24 POSTs each ``ONIMBOTMESSAGEADD`` once and never retries (reference §2.3), so a message
written while the service was down (or unreachable) never reaches a classic bot's handler. The
reference's answer: read the dialogue's history with ``im.dialog.messages.get`` from the newest
message we hold (``FIRST_ID``) and take up what is missing.

At start-up (and every ``interval_s`` when set), for each installed v1 portal and each dialogue
whose newest message row is younger than ``window_s``: page through the messages after that row's
``MESSAGE_ID`` and store every message not written by a bot as an ``ONIMBOTMESSAGEADD`` row, built
from the dialogue's newest stored event (the same chat, line and CRM bindings) with the message's
own id, author and text. The row's key is the one its delivery would have had, so a message that
did arrive is a duplicate, never a second answer; the answer path decides as for any event
(operators' messages are stored and ignored there).

Not covered: a dialogue the service never saw (its first message and the bot's join event were
both missed) has no row to start from; imbot.v2 fetch mode, the default, loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from b24claude.errors import B24ClaudeError
from b24claude.events.parse import MAX_MESSAGE_CHARS
from b24claude.inbox.service import InboxService
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, ChatGateway, ChatMessage
from b24claude.ports.store import InboxItem, InboxRepository, Portal, PortalRepository

log = logging.getLogger("b24claude.reconcile")

PAGE = 50  # im.dialog.messages.get returns at most 50 messages


class ClassicReconciler:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        inbox_rows: InboxRepository,
        inbox: InboxService,
        chat: ChatGateway,
        clock: Clock,
        window_s: float = 86400.0,
        interval_s: float = 0.0,
        max_pages: int = 20,
    ) -> None:
        self._portals = portals
        self._rows = inbox_rows
        self._inbox = inbox
        self._chat = chat
        self._clock = clock
        self._window_s = window_s
        self._interval_s = interval_s
        self._max_pages = max_pages
        self._stopping = asyncio.Event()
        self.recovered = 0

    async def run_once(self) -> int:
        """One pass over every installed classic portal; returns how many messages were taken up."""
        total = 0
        for portal in await self._portals.list_installed():
            if portal.bot_api != "v1" or not portal.bot_id:
                continue
            try:
                total += await self._portal(portal)
            except B24ClaudeError as exc:
                log.warning(
                    "reconcile.portal_failed", extra={"member_id": portal.member_id, "code": exc.code}
                )
        if total:
            log.info("reconcile.recovered", extra={"count": total})
        self.recovered += total
        return total

    async def _portal(self, portal: Portal) -> int:
        bot = BotIdentity(portal.bot_id or 0, portal.bot_code, "v1")
        since = self._clock.now() - self._window_s
        total = 0
        for head in await self._rows.dialogue_heads(portal.member_id, kind="ONIMBOTMESSAGEADD", since=since):
            try:
                total += await self._dialogue(portal.member_id, bot, head)
            except B24ClaudeError as exc:  # one unreadable chat (deleted, no access) costs only itself
                log.warning(
                    "reconcile.dialogue_failed",
                    extra={"member_id": portal.member_id, "dialog_key": head.dialog_key, "code": exc.code},
                )
        return total

    async def _dialogue(self, member_id: str, bot: BotIdentity, head: InboxItem) -> int:
        data = head.payload.get("data")
        params = data.get("PARAMS") if isinstance(data, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(params, Mapping):
            return 0
        dialog_id = str(params.get("DIALOG_ID") or "")
        try:
            first_id = int(params.get("MESSAGE_ID") or 0)
        except (TypeError, ValueError):
            return 0
        if not dialog_id or first_id <= 0:
            return 0
        total = 0
        for _ in range(self._max_pages):
            page = await self._chat.messages_after(
                member_id, bot, dialog_id=dialog_id, first_id=first_id, limit=PAGE
            )
            missed = [m for m in page if m.id > first_id]
            wanted = [
                _payload(head.payload, data, params, m, now=self._clock.now())
                for m in missed
                if m.author_id and m.author_id != bot.bot_id and not m.author_is_bot and m.text.strip()
            ]
            if wanted:
                total += await self._inbox.accept_reconciled(member_id, wanted)
            if len(page) < PAGE or not missed:
                break
            first_id = max(m.id for m in missed)
        return total

    async def run(self) -> None:
        """At start, then every ``interval_s`` (0: at start only)."""
        while True:
            try:
                await self.run_once()
            except B24ClaudeError as exc:
                log.warning("reconcile.failed", extra={"code": exc.code})
            if self._interval_s <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            if self._stopping.is_set():
                return

    async def stop(self) -> None:
        self._stopping.set()


def _payload(
    template: Mapping[str, Any],
    data: Mapping[str, Any],
    params: Mapping[str, Any],
    m: ChatMessage,
    *,
    now: float,
) -> dict[str, Any]:
    """The ``ONIMBOTMESSAGEADD`` payload the missed delivery would have carried."""
    author = str(m.author_id)
    same_author = str(params.get("AUTHOR_ID") or params.get("FROM_USER_ID") or "") == author
    raw_user = data.get("USER")
    user: dict[str, Any] = dict(raw_user) if same_author and isinstance(raw_user, Mapping) else {}
    if not user:
        user = {
            "ID": author,
            "NAME": m.author_name,
            "IS_BOT": "Y" if m.author_is_bot else "N",
            "IS_CONNECTOR": "Y" if m.author_is_connector else "N",
        }
    new_params = {
        **params,
        "MESSAGE_ID": str(m.id),
        "MESSAGE": m.text[:MAX_MESSAGE_CHARS],
        "AUTHOR_ID": author,
        "FROM_USER_ID": author,
        "SYSTEM": "N",
    }
    return {
        **template,
        "data": {**data, "PARAMS": new_params, "USER": user},
        "ts": str(int(now)),
        "reconciled": True,
    }
