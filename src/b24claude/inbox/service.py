"""Accepting inbound events: verify, store durably under a unique key, then acknowledge.

Nothing else happens on this path (DESIGN.md §2): the worker picks stored rows up afterwards.

The checks on a classic (form-encoded) event, in order: well-formed and within size limits (400);
the application token saved at install (401; an install event is itself the check, see
PortalService.install); not further than ``max_event_age_s`` from now by its own ``ts`` (400: a
replay; checked first for an install, whose acceptance writes tokens); the portal's
ingress rate (429, counted only after the token is verified, so nobody can spend another portal's
allowance); then stored once under its inbox key (a re-delivery inside the age window is a
duplicate). ``ts`` is not signed — the application token is Bitrix24's only secret — so the age
check stops verbatim replays of captured events, not forgeries by someone who holds the token.

imbot.v2 events are not pushed to us: the puller fetches them with our OAuth token, and the portal
returns only events of bots our app registered (``BOT_OWNERSHIP_ERROR`` otherwise; with OAuth the
v2 ``botToken`` is not used — it exists for webhook-authorised bots). So "the bot token" check for
v2 is Bitrix24's ownership check on the fetch plus ours here: an event naming another bot is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b24claude.errors import B24ClaudeError, BadRequest, TooManyRequests
from b24claude.events.parse import (
    MAX_MESSAGE_CHARS,
    ClassicEnvelope,
    classic_payload,
    dialog_key_of_payload,
    inbox_key_for_classic,
    inbox_key_for_offline,
    inbox_key_for_v2,
    offline_payload,
    parse_classic_envelope,
    v2_payload,
)
from b24claude.inbox.priority import PriorityPolicy
from b24claude.kit.clock import Clock
from b24claude.kit.ratelimit import KeyedTokenBucket
from b24claude.portals.service import PortalService
from b24claude.ports.bitrix import FetchedEvent, OfflineEvent
from b24claude.ports.queue import ReadyRow, TaskQueue
from b24claude.ports.store import InboxRepository, NewInboxItem

log = logging.getLogger("b24claude.inbox")

# Classic events we act on; anything else is acknowledged and ignored (and logged).
HANDLED_CLASSIC = frozenset(
    {
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONIMBOTMESSAGEADD",
        "ONIMBOTJOINCHAT",
        "ONIMBOTDELETE",
        "ONIMCOMMANDADD",
    }
)
HANDLED_V2 = frozenset({"ONIMBOTV2MESSAGEADD", "ONIMBOTV2JOINCHAT", "ONIMBOTV2DELETE", "ONIMBOTV2COMMANDADD"})


@dataclass(frozen=True, slots=True)
class Accepted:
    status: str  # "stored" | "duplicate" | "ignored" | "signalled"
    key: str = ""


class InboxService:
    def __init__(
        self,
        *,
        inbox: InboxRepository,
        portal_service: PortalService,
        clock: Clock,
        rate_per_s: float = 0.0,
        burst: int = 1,
        max_event_age_s: float = 0.0,
        on_stored: Callable[[], None] = lambda: None,
        queue: TaskQueue | None = None,
        priority: PriorityPolicy | None = None,
        on_offline_event: Callable[[str], None] = lambda member_id: None,
    ) -> None:
        """``rate_per_s`` events per second per portal (burst ``burst``; 0 = unlimited);
        ``max_event_age_s``: classic events older than this by their ``ts`` are refused (0 = no check);
        ``queue``: new rows are announced there after their commit (without one, ``on_stored`` is
        the only signal); ``priority`` decides their place in it; ``on_offline_event(member_id)``:
        a verified ONOFFLINEEVENT (the portal queued offline events: fetch them now) or a new
        install (bind them now)."""
        self._inbox = inbox
        self._portal_service = portal_service
        self._clock = clock
        self._limiter = KeyedTokenBucket(rate_per_s=rate_per_s, burst=burst, monotonic=clock.monotonic)
        self._max_age_s = max_event_age_s
        self._on_stored = on_stored
        self._queue = queue
        self._priority = priority or PriorityPolicy()
        self._on_offline_event = on_offline_event
        self.dropped_foreign_v2 = 0

    async def accept_classic(self, form: Mapping[str, Any]) -> Accepted:
        """A form-encoded Bitrix24 event; raises BadRequest/Unauthorized for bad input."""
        env = parse_classic_envelope(form)
        if env.name == "ONAPPINSTALL":
            self._check_age(env)  # before the install writes: an old install would roll tokens back
            await self._portal_service.install(env)
            self._on_offline_event(env.auth.member_id)  # a new portal: bind its offline events now
        else:
            await self._verify(env)
            self._check_age(env)
        self._check_rate(env.auth.member_id)
        if env.name == "ONOFFLINEEVENT":  # a signal, no data: the offline puller reads the queue
            self._on_offline_event(env.auth.member_id)
            return Accepted("signalled")
        if env.name not in HANDLED_CLASSIC:
            log.info("inbox.event.ignored", extra={"kind": env.name, "member_id": env.auth.member_id})
            return Accepted("ignored")
        payload = classic_payload(env)
        key = inbox_key_for_classic(env)
        item = NewInboxItem(
            env.auth.member_id,
            key,
            env.name,
            payload,
            _serial_key(env.auth.member_id, payload),
            self._priority.of_payload(env.auth.member_id, payload),
        )
        inserted = await self._store([item])
        return Accepted("stored" if inserted else "duplicate", key)

    async def accept_fetched(self, member_id: str, bot_id: int, events: Sequence[FetchedEvent]) -> int:
        """imbot.v2 events pulled by the puller; returns how many were new. Commits before returning,
        so the caller may acknowledge the fetch offset afterwards."""
        items = []
        for ev in events:
            kind = ev.type.upper()
            if kind not in HANDLED_V2:
                log.info("inbox.v2_event.ignored", extra={"kind": kind, "member_id": member_id})
                continue
            if not _for_bot(ev.data, bot_id):
                self.dropped_foreign_v2 += 1
                log.warning("inbox.v2_event.other_bot", extra={"kind": kind, "member_id": member_id})
                continue
            payload = v2_payload(bot_id, ev.event_id, kind, _capped_v2(ev.data, member_id))
            items.append(
                NewInboxItem(
                    member_id,
                    inbox_key_for_v2(bot_id, ev.event_id),
                    kind,
                    payload,
                    _serial_key(member_id, payload),
                    self._priority.of_payload(member_id, payload),
                )
            )
        if not items:
            return 0
        return await self._store(items)

    async def accept_reconciled(self, member_id: str, payloads: Sequence[Mapping[str, Any]]) -> int:
        """Classic message events rebuilt from the chat's history (inbox/reconcile.py); each is stored
        under the key its own delivery would have had, so an event that did arrive is a duplicate.
        Returns how many were new."""
        items = [
            NewInboxItem(
                member_id,
                f"v1:ONIMBOTMESSAGEADD:{payload['data']['PARAMS']['MESSAGE_ID']}",
                "ONIMBOTMESSAGEADD",
                payload,
                _serial_key(member_id, payload),
                self._priority.of_payload(member_id, payload),
            )
            for payload in payloads
        ]
        return await self._store(items) if items else 0

    async def accept_offline(self, member_id: str, events: Sequence[OfflineEvent]) -> int:
        """Offline events read with ``clear=0`` (inbox/offline.py); committed before returning, so the
        caller may clear the batch afterwards. Stored under the record's ID: a batch re-read after
        a crash is a duplicate. Returns how many were new."""
        items = [
            NewInboxItem(
                member_id,
                inbox_key_for_offline(ev.id),
                ev.name,
                offline_payload(ev.id, ev.name, ev.message_id, ev.data),
            )
            for ev in events
        ]
        return await self._store(items) if items else 0

    async def _store(self, items: list[NewInboxItem]) -> int:
        """Commit, then announce the new rows; returns how many were new. An announcement that
        fails costs nothing but time: the rows are stored, and the feeder announces them later."""
        new_ids = await self._inbox.insert_many(items)
        ready = [ReadyRow(i, item.priority) for i, item in zip(new_ids, items, strict=True) if i is not None]
        if not ready:
            return 0
        self._on_stored()
        if self._queue is not None:
            try:
                await self._queue.publish(ready)
            except B24ClaudeError as exc:
                log.warning("queue.publish_failed", extra={"count": len(ready), "code": exc.code})
        return len(ready)

    async def _verify(self, env: ClassicEnvelope) -> None:
        await self._portal_service.verify_application_token(env.auth.member_id, env.auth.application_token)

    def _check_age(self, env: ClassicEnvelope) -> None:
        if self._max_age_s <= 0:
            return
        try:
            ts = int(env.ts)  # Unix seconds as a string; int() also refuses "nan" and "inf"
        except ValueError:
            raise BadRequest("ts (the event's Unix time) is missing or not a number") from None
        # Symmetric window: a portal clock ahead of ours must not turn every event away.
        if abs(self._clock.now() - ts) > self._max_age_s:
            raise BadRequest(
                f"event ts is more than {int(self._max_age_s)} s away from now: refused as a replay"
            )

    def _check_rate(self, member_id: str) -> None:
        wait = self._limiter.take(member_id)
        if wait > 0:
            raise TooManyRequests("ingress rate limit of this portal exceeded", retry_after=wait)


def _for_bot(data: Mapping[str, Any], bot_id: int) -> bool:
    """False when a fetched event names a bot other than ours (events without a bot block pass:
    the portal already scoped the fetch to our bot)."""
    bot = data.get("bot")
    if not isinstance(bot, Mapping) or bot.get("id") in (None, ""):
        return True
    try:
        return int(bot["id"]) == bot_id
    except (TypeError, ValueError):
        return False


def _capped_v2(data: Mapping[str, Any], member_id: str) -> Mapping[str, Any]:
    """A fetched message longer than Bitrix24's own limit is cut, not dropped (we pulled it with our
    own token; losing it would lose the customer's words)."""
    message = data.get("message")
    text = message.get("text") if isinstance(message, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(text, str) or len(text) <= MAX_MESSAGE_CHARS:
        return data
    log.warning("inbox.v2_text.truncated", extra={"member_id": member_id, "chars": len(text)})
    return {**data, "message": {**message, "text": text[:MAX_MESSAGE_CHARS]}}


def _serial_key(member_id: str, payload: Mapping[str, Any]) -> str:
    """Per-dialogue serialisation key across all portals ('' = not a dialogue event)."""
    dialog = dialog_key_of_payload(payload)
    return f"{member_id}:{dialog}" if dialog else ""
