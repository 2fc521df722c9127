"""Accepting inbound events: verify, store durably under a unique key, then acknowledge.

Nothing else happens on this path (DESIGN.md §2): the worker picks stored rows up afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b24claude.events.parse import (
    ClassicEnvelope,
    classic_payload,
    dialog_key_of_payload,
    inbox_key_for_classic,
    inbox_key_for_v2,
    parse_classic_envelope,
    v2_payload,
)
from b24claude.portals.service import PortalService
from b24claude.ports.bitrix import FetchedEvent
from b24claude.ports.store import InboxRepository, NewInboxItem

log = logging.getLogger("b24claude.inbox")

# Classic events we act on; anything else is acknowledged and ignored (and logged).
HANDLED_CLASSIC = frozenset(
    {"ONAPPINSTALL", "ONAPPUNINSTALL", "ONIMBOTMESSAGEADD", "ONIMBOTJOINCHAT", "ONIMBOTDELETE"}
)
HANDLED_V2 = frozenset({"ONIMBOTV2MESSAGEADD", "ONIMBOTV2JOINCHAT", "ONIMBOTV2DELETE"})


@dataclass(frozen=True, slots=True)
class Accepted:
    status: str  # "stored" | "duplicate" | "ignored"
    key: str = ""


class InboxService:
    def __init__(
        self,
        *,
        inbox: InboxRepository,
        portal_service: PortalService,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._inbox = inbox
        self._portal_service = portal_service
        self._on_stored = on_stored

    async def accept_classic(self, form: Mapping[str, Any]) -> Accepted:
        """A form-encoded Bitrix24 event; raises BadRequest/Unauthorized for bad input."""
        env = parse_classic_envelope(form)
        if env.name == "ONAPPINSTALL":
            await self._portal_service.install(env)
        else:
            await self._verify(env)
        if env.name not in HANDLED_CLASSIC:
            log.info("event ignored", extra={"kind": env.name, "member_id": env.auth.member_id})
            return Accepted("ignored")
        payload = classic_payload(env)
        key = inbox_key_for_classic(env)
        item = NewInboxItem(
            env.auth.member_id, key, env.name, payload, _serial_key(env.auth.member_id, payload)
        )
        (inserted,) = await self._inbox.add_many([item])
        if inserted:
            self._on_stored()
        return Accepted("stored" if inserted else "duplicate", key)

    async def accept_fetched(self, member_id: str, bot_id: int, events: Sequence[FetchedEvent]) -> int:
        """imbot.v2 events pulled by the puller; returns how many were new. Commits before returning,
        so the caller may acknowledge the fetch offset afterwards."""
        items = []
        for ev in events:
            kind = ev.type.upper()
            if kind not in HANDLED_V2:
                log.info("v2 event ignored", extra={"kind": kind, "member_id": member_id})
                continue
            payload = v2_payload(bot_id, ev.event_id, kind, ev.data)
            items.append(
                NewInboxItem(
                    member_id,
                    inbox_key_for_v2(bot_id, ev.event_id),
                    kind,
                    payload,
                    _serial_key(member_id, payload),
                )
            )
        if not items:
            return 0
        new = sum(await self._inbox.add_many(items))
        if new:
            self._on_stored()
        return new

    async def _verify(self, env: ClassicEnvelope) -> None:
        await self._portal_service.verify_application_token(env.auth.member_id, env.auth.application_token)


def _serial_key(member_id: str, payload: Mapping[str, Any]) -> str:
    """Per-dialogue serialisation key across all portals ('' = not a dialogue event)."""
    dialog = dialog_key_of_payload(payload)
    return f"{member_id}:{dialog}" if dialog else ""
