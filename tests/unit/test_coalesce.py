"""The coalescer over a real SQLite store: which waiting rows join a burst, and that a burst survives a
crash unchanged (recorded on its head, re-formed on resume)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from b24claude.adapters.sql import SqlStore
from b24claude.inbox.coalesce import BURST, Coalescer
from b24claude.kit.clock import SystemClock
from b24claude.ports.store import NewInboxItem

DIALOG = "m1:dlg:chat9"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    yield opened
    await opened.close()


def message(message_id: int, author: int, text: str = "вопрос") -> NewInboxItem:
    payload: dict[str, Any] = {
        "api": "v2",
        "event": "ONIMBOTV2MESSAGEADD",
        "bot_id": 39,
        "data": {
            "message": {"id": message_id, "text": text, "authorId": author},
            "chat": {"id": 9, "dialogId": "chat9", "entityType": "LINES"},
            "user": {"id": author, "connector": True},
        },
    }
    return NewInboxItem("m1", f"v2:39:{message_id}", "ONIMBOTV2MESSAGEADD", payload, dialog_key=DIALOG)


async def test_a_burst_is_the_customers_consecutive_messages_and_survives_a_crash(store: SqlStore) -> None:
    clock = SystemClock()
    coalescer = Coalescer(
        inbox=store.inbox, effects=store.effects, clock=clock, window_s=0.0, max_messages=10
    )
    ids = await store.inbox.insert_many(
        [message(1, 500), message(2, 500), message(3, 500), message(4, 7, "оператор"), message(5, 500)]
    )
    head_id, *rest = [i for i in ids if i is not None]
    now = clock.now()
    head = await store.inbox.claim_row(head_id, now=now, lease_until=now + 60)
    assert head is not None
    burst = await coalescer.gather(head, lease_until=now + 60)
    # The customer's two messages behind the head join it; the burst stops at the operator's message.
    assert [r.id for r in burst.later] == rest[:2] == [r.id for r in burst.claimed]
    assert {(await store.inbox.get(i)).status for i in rest[:2]} == {"processing"}  # type: ignore[union-attr]
    assert (await store.inbox.get(rest[2])).status == "pending"  # type: ignore[union-attr]
    recorded = await store.effects.get(head_id, BURST)
    assert recorded is not None and list(recorded.payload["rows"]) == rest[:2]
    for i in rest[:2]:  # a replay of a later row alone sends nothing: its reply points at the head
        effect = await store.effects.get(i, "reply")
        assert effect is not None and effect.status == "done" and effect.payload["coalesced_into"] == head_id

    # SIGKILL: everything processing goes back to pending; another message of the customer arrives.
    await store.inbox.requeue_processing()
    await store.inbox.insert_many([message(6, 500)])
    now = clock.now()
    assert await store.inbox.claim_row(rest[0], now=now, lease_until=now + 60) is None  # the head is older
    head = await store.inbox.claim_row(head_id, now=now, lease_until=now + 60)
    assert head is not None
    again = await coalescer.gather(head, lease_until=now + 60)
    assert [r.id for r in again.later] == rest[:2]  # the same burst, nothing added to it


async def test_coalescing_off_or_a_lone_message_is_a_burst_of_one(store: SqlStore) -> None:
    clock = SystemClock()
    ids = [i for i in await store.inbox.insert_many([message(1, 500), message(2, 500)]) if i is not None]
    now = clock.now()
    head = await store.inbox.claim_row(ids[0], now=now, lease_until=now + 60)
    assert head is not None
    off = Coalescer(inbox=store.inbox, effects=store.effects, clock=clock, max_messages=1)
    burst = await off.gather(head, lease_until=now + 60)
    assert burst.later == () and (await store.inbox.get(ids[1])).status == "pending"  # type: ignore[union-attr]
    assert await store.effects.get(ids[0], BURST) is None
