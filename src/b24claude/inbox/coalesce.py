"""Coalescing (DESIGN.md §2, the queue: "one dialogue at a time, consecutive messages coalesced"): a
customer who sends three messages in two seconds gets one answer to all three.

Built on the inbox's per-dialogue ordering: the worker that claimed a dialogue's oldest pending row
(the burst's *head*) holds the dialogue — no other worker can claim a row of it meanwhile — so the
rows waiting behind the head are its to take. It waits until the customer has been quiet for
``window_s`` (at most ``4 × window_s``), then claims the customer's consecutive messages waiting
behind the head (up to ``max_messages`` in all) with the head's lease, and the head is dispatched
with them as its earlier messages: one answer, recorded against the head row.

Nothing lost, nothing doubled, order kept — across a restart or a SIGKILL:

- the burst's membership is recorded as an effect of the head (``burst``: the later rows' ids)
  before anything is answered, and each later row's ``reply`` effect points to the head
  (``coalesced_into``), so a replay of a later row alone sends nothing;
- a killed worker's rows (head and followers, one lease) go back to ``pending`` together; the head is
  again the dialogue's oldest pending row, is claimed first, and its recorded ``burst`` re-forms the
  same burst (a message that arrived meanwhile is not added to an answer already under way: it is
  answered after, in its own turn);
- followers are marked done only after the head's dispatch returned, the head last.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from b24claude.events.models import IncomingMessage
from b24claude.events.parse import update_from_payload
from b24claude.kit.clock import Clock
from b24claude.ports.store import EffectRepository, InboxItem, InboxRepository

log = logging.getLogger("b24claude.coalesce")

MESSAGE_KINDS = frozenset({"ONIMBOTMESSAGEADD", "ONIMBOTV2MESSAGEADD"})
BURST = "burst"  # effect of the head row: {"rows": [ids of the later rows answered with it]}
POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class Burst:
    """The rows answered together: the head, then the later rows in order."""

    head: InboxItem
    later: tuple[InboxItem, ...] = ()  # every later row of the burst (a replay: done ones too)
    claimed: tuple[InboxItem, ...] = ()  # those of them this worker moved to ``processing`` now

    @property
    def rows(self) -> tuple[InboxItem, ...]:
        return (self.head, *self.later)


class Coalescer:
    def __init__(
        self,
        *,
        inbox: InboxRepository,
        effects: EffectRepository,
        clock: Clock,
        window_s: float = 1.5,
        max_messages: int = 10,
    ) -> None:
        self._inbox = inbox
        self._effects = effects
        self._clock = clock
        self._window_s = max(0.0, window_s)
        self._max = max(1, max_messages)

    @property
    def enabled(self) -> bool:
        return self._max > 1

    async def gather(self, head: InboxItem, *, lease_until: float) -> Burst:
        """The burst ``head`` (a claimed row) starts: the rows recorded for it before a crash, or the
        customer's messages waiting behind it once they are quiet (claimed with ``lease_until``)."""
        if not self.enabled or head.kind.upper() not in MESSAGE_KINDS or not head.dialog_key:
            return Burst(head)
        first = update_from_payload(head.member_id, head.payload)
        if not isinstance(first, IncomingMessage):
            return Burst(head)
        recorded = await self._effects.get(head.id, BURST)
        if recorded is not None:
            return await self._resume(head, [int(i) for i in recorded.payload.get("rows") or ()], lease_until)
        await self._wait_quiet(head, first)
        waiting = self._same_customer(first, await self._waiting(head))
        if not waiting:
            return Burst(head)
        claimed = await self._inbox.claim_followers(
            [r.id for r in waiting], dialog_key=head.dialog_key, lease_until=lease_until
        )
        later = _consecutive(waiting, claimed)
        # Release what was claimed beyond a gap (a row taken meanwhile cannot happen while we hold the
        # dialogue, but order must never be broken if it did): those rows wait for their own turn.
        extra = [r for r in claimed if r not in later]
        for row in extra:
            await self._inbox.mark_retry(row.id, error="coalescing: not consecutive", not_before=0.0)
        if not later:
            return Burst(head)
        rows = [r.id for r in later]
        await self._effects.record_intent(head.id, BURST, {"rows": rows})
        for row in later:
            pointer = {"coalesced_into": head.id}
            await self._effects.record_intent(row.id, "reply", pointer)
            await self._effects.record_done(row.id, "reply", pointer)
        log.info(
            "inbox.coalesced",
            extra={"inbox_id": head.id, "member_id": head.member_id, "rows": len(rows) + 1},
        )
        return Burst(head, tuple(later), tuple(later))

    async def _resume(self, head: InboxItem, ids: list[int], lease_until: float) -> Burst:
        claimed = await self._inbox.claim_followers(ids, dialog_key=head.dialog_key, lease_until=lease_until)
        mine = {r.id: r for r in claimed}
        later: list[InboxItem] = []
        for i in ids:
            row = mine.get(i) or await self._inbox.get(i)
            if row is not None:
                later.append(row)
        log.info("inbox.coalesced.resumed", extra={"inbox_id": head.id, "rows": len(later) + 1})
        return Burst(head, tuple(later), tuple(claimed))

    async def _waiting(self, head: InboxItem) -> list[InboxItem]:
        return await self._inbox.pending_after(head.dialog_key, head.id, limit=self._max - 1)

    async def _wait_quiet(self, head: InboxItem, first: IncomingMessage) -> None:
        if self._window_s <= 0:
            return
        cap = self._clock.now() + 4 * self._window_s
        while True:
            waiting = self._same_customer(first, await self._waiting(head))
            last = max([head.received_at, *(r.received_at for r in waiting)])
            now = self._clock.now()
            if now >= last + self._window_s or now >= cap or len(waiting) >= self._max - 1:
                return
            await self._clock.sleep(min(POLL_S, last + self._window_s - now))

    def _same_customer(self, first: IncomingMessage, rows: list[InboxItem]) -> list[InboxItem]:
        """The rows right behind the head that are messages of the same author: the burst stops at the
        first row that is anything else (an operator's message, a command), so order is kept."""
        out: list[InboxItem] = []
        for row in rows:
            if row.kind.upper() not in MESSAGE_KINDS:
                break
            update = update_from_payload(row.member_id, row.payload)
            if (
                not isinstance(update, IncomingMessage)
                or update.author_id != first.author_id
                or update.is_system
                or update.dialog_id != first.dialog_id
            ):
                break
            out.append(row)
        return out


def _consecutive(wanted: list[InboxItem], claimed: list[InboxItem]) -> list[InboxItem]:
    got = {r.id: r for r in claimed}
    out: list[InboxItem] = []
    for row in wanted:
        if row.id not in got:
            break
        out.append(got[row.id])
    return out
