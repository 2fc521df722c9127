"""Queue priorities: VIP clients and urgent requests go first; waiting raises everyone (aging).

Decided at ingress from the stored event alone (no CRM read on the acknowledgement path): the
message's author or its dialogue's CRM bindings against the configured VIP lists, and its text
against the urgent words. The feeder re-announces a row that has waited ``aging_s`` with one level
more per period waited, so ordinary traffic is never starved by a stream of VIP messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from b24claude.events.models import IncomingMessage
from b24claude.events.parse import update_from_payload
from b24claude.ports.queue import MAX_PRIORITY

ORDINARY = 0
URGENT = 4
VIP = 6

DEFAULT_URGENT_WORDS = ("срочно", "срочная", "срочный", "немедленно", "авария", "urgent", "asap", "emergency")
# (settings.py holds the same tuple: settings import no domain module)


def _crm_refs(entries: Iterable[str]) -> frozenset[tuple[str, int]]:
    """``"CONTACT:12"``, ``"company:3"`` → {("contact", 12), ("company", 3)} (bad entries skipped)."""
    refs = set()
    for entry in entries:
        kind, _, raw_id = entry.strip().replace("|", ":").partition(":")
        if kind and raw_id.strip().isdigit():
            refs.add((kind.strip().lower(), int(raw_id)))
    return frozenset(refs)


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """``vip_user_ids``: Bitrix24 user ids of customers (an Open Lines customer is a connector
    user); ``vip_crm``: CRM entities as ``TYPE:ID`` (contact, company, lead, deal) whose dialogues
    are VIP; ``urgent_words``: a message containing one is urgent; ``aging_s``: one level up per
    this many seconds waited (0 = no aging)."""

    vip_user_ids: frozenset[int] = frozenset()
    vip_crm: frozenset[tuple[str, int]] = frozenset()
    urgent_words: tuple[str, ...] = DEFAULT_URGENT_WORDS
    aging_s: float = 10.0
    _words: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_words", tuple(w.casefold() for w in self.urgent_words if w.strip()))

    @classmethod
    def from_settings(
        cls,
        *,
        vip_user_ids: Iterable[int],
        vip_crm: Iterable[str],
        urgent_words: Iterable[str],
        aging_s: float,
    ) -> PriorityPolicy:
        return cls(frozenset(vip_user_ids), _crm_refs(vip_crm), tuple(urgent_words), aging_s)

    def of_payload(self, member_id: str, payload: Mapping[str, Any]) -> int:
        """The base priority of a stored event (0 for anything but a customer message)."""
        update = update_from_payload(member_id, payload)
        if not isinstance(update, IncomingMessage):
            return ORDINARY
        priority = ORDINARY
        if self._is_vip(update):
            priority += VIP
        if self._is_urgent(update.text):
            priority += URGENT
        return min(MAX_PRIORITY, priority)

    def aged(self, base: int, waited_s: float) -> int:
        """The priority of a row announced again after waiting ``waited_s``."""
        bonus = int(waited_s // self.aging_s) if self.aging_s > 0 and waited_s > 0 else 0
        return min(MAX_PRIORITY, base + bonus)

    def _is_vip(self, msg: IncomingMessage) -> bool:
        if msg.author_id in self.vip_user_ids:
            return True
        refs = msg.crm_refs
        bound = {
            ("contact", refs.contact_id),
            ("company", refs.company_id),
            ("lead", refs.lead_id),
            ("deal", refs.deal_id),
        }
        return any(ref in self.vip_crm for ref in bound)

    def _is_urgent(self, text: str) -> bool:
        folded = text.casefold()
        return any(word in folded for word in self._words)
