"""The SQL store's behaviour, on a SQLite file here and on PostgreSQL in
``tests/integration/test_sql_store_postgres.py``, which runs these same tests with ``backend``
parametrised to "postgres". Tests named ``test_sqlite_*`` are SQLite-only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from b24claude.adapters.sql import SqlStore, migrate
from b24claude.adapters.sql.engine import alembic_config
from b24claude.adapters.sql.tables import is_search_index, metadata
from b24claude.errors import PortalNotInstalled, StorageError
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import LedgerEntry, NewInboxItem, Portal, Turn

TABLES = (
    "effects",
    "inbox",
    "portals",
    "dialogue_turns",
    "llm_ledger",
    "pii_vault",
    "dialogue_subjects",
    "client_consents",
    "audit_log",
)


# --- fixtures: one store per test, parametrised over backends -------------------------------------


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    # A database created (and migrated) once per session by the integration module.
    return cast(str, request.getfixturevalue("postgres_db_url"))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(db_url)
    if opened.db.dialect == "postgresql":  # the session's database is shared: start each test empty
        async with opened.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield opened
    await opened.close()


def item(
    key: str, dialog: str = "", *, member: str = "m1", payload: dict[str, Any] | None = None
) -> NewInboxItem:
    return NewInboxItem(
        member_id=member,
        key=key,
        kind="ONIMBOTV2MESSAGEADD",
        payload=payload if payload is not None else {"text": f"привет {key}"},
        dialog_key=dialog,
    )


def portal(member: str = "m1", **changes: Any) -> Portal:
    base = Portal(
        member_id=member,
        domain=f"{member}.bitrix24.ru",
        auth=PortalAuth(
            member_id=member,
            client_endpoint=f"https://{member}.bitrix24.ru/rest/",
            access_token="a0",
            refresh_token="r0",
            expires_at=1000.0,
            server_endpoint="https://oauth.bitrix.info/rest/",
        ),
        application_token="app-token",
    )
    return dataclasses.replace(base, **changes)


# --- inbox ----------------------------------------------------------------------------------------


async def test_add_many_dedupes_on_member_and_key(store: SqlStore) -> None:
    first = await store.inbox.add_many([item("e1"), item("e2"), item("e1"), item("e1", member="m2")])
    again = await store.inbox.add_many([item("e2"), item("e3")])

    assert first == [True, True, False, True]
    assert again == [False, True]
    assert (await store.inbox.counts())["pending"] == 4
    assert await store.inbox.add_many([]) == []


async def test_concurrent_deliveries_of_one_event_store_it_once(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.inbox.add_many([item("same"), item(f"own{n}")]) for n in range(20))
    )
    assert sum(first for first, _ in results) == 1
    assert all(own for _, own in results)
    assert (await store.inbox.counts())["pending"] == 21


async def test_a_failing_call_does_not_fail_the_calls_committed_with_it(store: SqlStore) -> None:
    good = [store.inbox.add_many([item(f"e{n}")]) for n in range(10)]
    bad = store.inbox.add_many([item("bad", payload={"unserialisable": object()})])

    results = await asyncio.gather(*good[:5], bad, *good[5:], return_exceptions=True)

    assert isinstance(results[5], StorageError)
    assert results[:5] + results[6:] == [[True]] * 10
    assert (await store.inbox.counts())["pending"] == 10


async def test_a_cancelled_caller_still_gets_its_events_stored(store: SqlStore) -> None:
    waiting = [asyncio.ensure_future(store.inbox.add_many([item(f"e{n}")])) for n in range(5)]
    await asyncio.sleep(0)  # they are queued for the same commit
    waiting[2].cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)

    assert isinstance(results[2], asyncio.CancelledError)
    assert (await store.inbox.counts())["pending"] == 5


async def test_added_item_reads_back(store: SqlStore) -> None:
    await store.inbox.add_many([item("e1", "m1:chat7", payload={"text": "Здравствуйте", "n": [1, 2]})])
    [claimed] = await store.inbox.claim(limit=1, now=0.0)

    got = await store.inbox.get(claimed.id)
    assert got is not None
    assert (got.member_id, got.key, got.dialog_key) == ("m1", "e1", "m1:chat7")
    assert got.kind == "ONIMBOTV2MESSAGEADD"
    assert got.payload == {"text": "Здравствуйте", "n": [1, 2]}
    assert (got.status, got.attempts, got.not_before) == ("processing", 0, 0.0)
    assert got.received_at > 0
    assert await store.inbox.get(claimed.id + 1000) is None


async def test_claim_is_oldest_first_and_one_per_dialogue(store: SqlStore) -> None:
    await store.inbox.add_many(
        [item("a1", "A"), item("a2", "A"), item("b1", "B"), item("x1"), item("a3", "A"), item("x2")]
    )

    first = await store.inbox.claim(limit=10, now=0.0)
    assert [i.key for i in first] == ["a1", "b1", "x1", "x2"]
    assert await store.inbox.claim(limit=10, now=0.0) == []  # A and B are being processed

    await store.inbox.mark_done(first[0].id)
    assert [i.key for i in await store.inbox.claim(limit=10, now=0.0)] == ["a2"]


async def test_claim_respects_limit_busy_dialogues_and_due_time(store: SqlStore) -> None:
    await store.inbox.add_many([item("a1", "A"), item("b1", "B"), item("c1", "C")])

    assert [i.key for i in await store.inbox.claim(limit=1, now=0.0, busy_dialogs=["A"])] == ["b1"]
    [c1] = await store.inbox.claim(limit=5, now=0.0, busy_dialogs=["A"])
    assert c1.key == "c1"
    assert await store.inbox.claim(limit=0, now=0.0) == []

    await store.inbox.mark_retry(c1.id, error="Bitrix24 503", not_before=100.0)
    await store.inbox.add_many([item("c2", "C")])
    assert [i.key for i in await store.inbox.claim(limit=5, now=99.0, busy_dialogs=["A"])] == []

    [retried] = await store.inbox.claim(limit=5, now=100.0, busy_dialogs=["A"])
    assert (retried.key, retried.attempts, retried.last_error) == ("c1", 1, "Bitrix24 503")


async def test_a_dialogue_waits_for_its_retrying_message(store: SqlStore) -> None:
    """Later messages of a dialogue are not answered before an earlier one that is backing off."""
    await store.inbox.add_many([item("a1", "A")])
    [a1] = await store.inbox.claim(limit=1, now=0.0)
    await store.inbox.mark_retry(a1.id, error="timeout", not_before=50.0)
    await store.inbox.add_many([item("a2", "A"), item("x1")])

    assert [i.key for i in await store.inbox.claim(limit=5, now=10.0)] == ["x1"]
    assert [i.key for i in await store.inbox.claim(limit=5, now=50.0)] == ["a1"]


async def test_final_states_and_counts(store: SqlStore) -> None:
    await store.inbox.add_many([item("d"), item("f"), item("i"), item("p")])
    done, failed, ignored = await store.inbox.claim(limit=3, now=0.0)

    await store.inbox.mark_done(done.id)
    await store.inbox.mark_failed(failed.id, error="bad payload " + "x" * 10_000)
    await store.inbox.mark_done(ignored.id, status="ignored")

    assert await store.inbox.counts() == {"pending": 1, "processing": 0, "done": 1, "failed": 1, "ignored": 1}
    got = await store.inbox.get(failed.id)
    assert got is not None
    assert (got.status, got.attempts) == ("failed", 1)
    assert got.last_error.startswith("bad payload") and len(got.last_error) == 4000
    assert [i.key for i in await store.inbox.claim(limit=5, now=0.0)] == ["p"]


async def test_requeue_after_a_crash(db_url: str, store: SqlStore) -> None:
    await store.inbox.add_many([item("a1", "A"), item("b1", "B"), item("c1")])
    claimed = await store.inbox.claim(limit=2, now=0.0)
    assert [i.key for i in claimed] == ["a1", "b1"]
    await store.close()  # the process dies with two rows in processing

    restarted = await SqlStore.open(db_url)
    try:
        assert await restarted.inbox.requeue_processing() == 2
        assert await restarted.inbox.counts() == {
            "pending": 3,
            "processing": 0,
            "done": 0,
            "failed": 0,
            "ignored": 0,
        }
        again = await restarted.inbox.claim(limit=5, now=0.0)
        assert [(i.key, i.attempts) for i in again] == [("a1", 1), ("b1", 1), ("c1", 0)]
        assert again[0].last_error.startswith("interrupted")
        assert await restarted.inbox.requeue_processing() == 3
    finally:
        await restarted.close()


async def test_requeue_spares_rows_claimed_after_the_cut_off(store: SqlStore) -> None:
    await store.inbox.add_many([item("old"), item("new")])
    [old] = await store.inbox.claim(limit=1, now=0.0)
    await asyncio.sleep(0.01)
    cut_off = time.time()
    await asyncio.sleep(0.01)
    [new] = await store.inbox.claim(limit=1, now=0.0)

    assert await store.inbox.requeue_processing(stale_before=cut_off) == 1
    assert await status_of(store, old.id) == "pending"
    assert await status_of(store, new.id) == "processing"


async def test_claim_row_takes_a_dialogues_rows_one_at_a_time_in_order(store: SqlStore) -> None:
    ids = await store.inbox.insert_many([item("a1", "m1:A"), item("a2", "m1:A"), item("b1", "m1:B")])
    a1, a2, b1 = (i for i in ids if i is not None)
    now = time.time()
    assert await store.inbox.claim_row(a2, now=now, lease_until=now + 30) is None  # a1 is older
    got = await store.inbox.claim_row(a1, now=now, lease_until=now + 30)
    assert got is not None and got.status == "processing" and got.lease_until == pytest.approx(now + 30)
    assert await store.inbox.claim_row(a1, now=now, lease_until=now + 30) is None  # already taken
    assert await store.inbox.claim_row(a2, now=now, lease_until=now + 30) is None  # dialogue busy
    assert await store.inbox.claim_row(b1, now=now, lease_until=now + 30) is not None  # another dialogue
    await store.inbox.mark_done(a1)
    assert await store.inbox.claim_row(a2, now=now, lease_until=now + 30) is not None


async def test_requeue_takes_back_only_expired_leases(store: SqlStore) -> None:
    ids = [i for i in await store.inbox.insert_many([item("dead", "m1:A"), item("live", "m1:B")]) if i]
    now = time.time()
    await store.inbox.claim_row(ids[0], now=now, lease_until=now - 1)  # its worker died: not renewed
    await store.inbox.claim_row(ids[1], now=now, lease_until=now + 5)
    assert await store.inbox.renew_lease(ids[1], lease_until=now + 60)

    assert await store.inbox.requeue_processing(stale_before=now) == 1
    assert await status_of(store, ids[0]) == "pending"
    assert await status_of(store, ids[1]) == "processing"
    assert not await store.inbox.renew_lease(ids[0], lease_until=now + 60)  # requeued: not ours


async def test_ready_heads_announce_each_claimable_row_once_per_period(store: SqlStore) -> None:
    ids = await store.inbox.insert_many(
        [item("a1", "m1:A"), item("a2", "m1:A"), item("b1", "m1:B"), item("c1")]
    )
    now = time.time() + 1
    assert await store.inbox.ready_heads(now=now, announced_before=now - 10, limit=10) == []  # just added
    heads = await store.inbox.ready_heads(now=now, announced_before=now, limit=10)
    assert [h.key for h in heads] == ["a1", "b1", "c1"]  # a2 waits behind a1
    assert await store.inbox.ready_heads(now=now, announced_before=now, limit=10) == []  # announced
    later = now + 5
    again = await store.inbox.ready_heads(now=later, announced_before=later, limit=10, dialog_key="m1:A")
    assert [h.id for h in again] == [ids[0]]


async def status_of(store: SqlStore, item_id: int) -> str:
    got = await store.inbox.get(item_id)
    assert got is not None
    return got.status


async def test_concurrent_claimers_never_share_a_row_or_a_dialogue(db_url: str, store: SqlStore) -> None:
    """Eight claimers over two engines (two "processes"): every row is claimed exactly once, and no
    dialogue ever has two rows in flight."""
    dialogues = [f"m1:chat{n}" for n in range(12)] + [""]
    await store.inbox.add_many([item(f"e{n}", dialogues[n % len(dialogues)]) for n in range(240)])
    other = await SqlStore.open(db_url, run_migrations=False)
    claimed: list[int] = []
    in_flight: set[str] = set()

    async def worker(s: SqlStore) -> None:
        idle = 0
        while idle < 3:
            batch = await s.inbox.claim(limit=4, now=0.0)
            idle = 0 if batch else idle + 1
            for row in batch:
                claimed.append(row.id)
                if row.dialog_key:
                    assert row.dialog_key not in in_flight, f"two rows of {row.dialog_key} in flight"
                    in_flight.add(row.dialog_key)
            await asyncio.sleep(0)  # "process" them, letting the other claimers in
            for row in batch:
                in_flight.discard(row.dialog_key)  # before mark_done: the row is still processing
                await s.inbox.mark_done(row.id)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(worker(s) for s in [store, other] * 4))
    finally:
        await other.close()

    assert len(claimed) == len(set(claimed)) == 240
    assert (await store.inbox.counts())["done"] == 240


async def test_concurrent_claims_on_one_batch_split_it(db_url: str, store: SqlStore) -> None:
    await store.inbox.add_many([item(f"e{n}") for n in range(50)])
    other = await SqlStore.open(db_url, run_migrations=False)
    try:
        results = await asyncio.gather(
            *(s.inbox.claim(limit=50, now=0.0) for s in [store, other, store, other])
        )
    finally:
        await other.close()
    ids = [i.id for batch in results for i in batch]
    assert len(ids) == len(set(ids)) == 50


# --- portals --------------------------------------------------------------------------------------


async def test_unknown_portal_has_no_auth(store: SqlStore) -> None:
    with pytest.raises(PortalNotInstalled):
        await store.portals.load_auth("nobody")
    with pytest.raises(PortalNotInstalled):
        await store.portals.save_tokens("nobody", access_token="a", refresh_token="r", expires_at=1.0)
    with pytest.raises(PortalNotInstalled):
        await store.portals.set_event_offset("nobody", 5)
    assert await store.portals.get("nobody") is None


async def test_portal_round_trip(store: SqlStore) -> None:
    original = portal(settings={"persona": "Вежливый ассистент", "limits": {"daily_usd": 5}}, language="en")
    await store.portals.upsert(original)

    assert await store.portals.get("m1") == original
    assert await store.portals.load_auth("m1") == original.auth
    assert await store.portals.list_installed() == [original]


async def test_token_rotation_is_saved_as_a_pair(store: SqlStore) -> None:
    await store.portals.upsert(portal())

    await store.portals.save_tokens("m1", access_token="a1", refresh_token="r1", expires_at=2000.0)
    auth = await store.portals.load_auth("m1")
    assert (auth.access_token, auth.refresh_token, auth.expires_at) == ("a1", "r1", 2000.0)

    # Many rotations racing: whatever wins, access and refresh token always belong together.
    await asyncio.gather(
        *(
            store.portals.save_tokens("m1", access_token=f"a{n}", refresh_token=f"r{n}", expires_at=float(n))
            for n in range(2, 30)
        )
    )
    auth = await store.portals.load_auth("m1")
    n = int(auth.access_token[1:])
    assert (auth.refresh_token, auth.expires_at) == (f"r{n}", float(n))


async def test_reinstall_keeps_bot_offset_and_settings(store: SqlStore) -> None:
    await store.portals.upsert(portal(settings={"tone": "formal"}))
    await store.portals.set_bot("m1", bot_id=77, bot_code="b24claude", bot_api="v2")
    await store.portals.set_event_offset("m1", 1234)

    new_auth = dataclasses.replace(portal().auth, access_token="a9", refresh_token="r9")
    await store.portals.upsert(portal(auth=new_auth, application_token="new-app-token"))

    got = await store.portals.get("m1")
    assert got is not None
    assert (got.bot_id, got.bot_code, got.bot_api, got.event_offset) == (77, "b24claude", "v2", 1234)
    assert got.settings == {"tone": "formal"}
    assert (got.auth.access_token, got.auth.refresh_token) == ("a9", "r9")
    assert got.application_token == "new-app-token"

    await store.portals.upsert(portal(bot_id=78, bot_code="other", bot_api="v1", event_offset=0))
    got = await store.portals.get("m1")
    assert got is not None
    assert (got.bot_id, got.bot_code, got.bot_api, got.event_offset) == (78, "other", "v1", 0)


async def test_uninstall_and_reinstall(store: SqlStore) -> None:
    await store.portals.upsert(portal("m1", bot_id=5))
    await store.portals.upsert(portal("m2"))

    await store.portals.mark_uninstalled("m1")
    await store.portals.mark_uninstalled("never-installed")

    with pytest.raises(PortalNotInstalled):
        await store.portals.load_auth("m1")
    with pytest.raises(PortalNotInstalled):  # a refresh finishing after the uninstall stays lost
        await store.portals.save_tokens("m1", access_token="a", refresh_token="r", expires_at=1.0)
    gone = await store.portals.get("m1")
    assert gone is not None and not gone.installed
    assert (gone.auth.access_token, gone.auth.refresh_token, gone.bot_id) == ("", "", 5)
    assert [p.member_id for p in await store.portals.list_installed()] == ["m2"]

    await store.portals.upsert(portal("m1"))
    assert (await store.portals.load_auth("m1")).access_token == "a0"
    back = await store.portals.get("m1")
    assert back is not None and back.bot_id == 5


class ReversingCodec:
    def encode(self, plain: str) -> str:
        return "enc:" + plain[::-1]

    def decode(self, stored: str) -> str:
        assert stored.startswith("enc:")
        return stored[4:][::-1]


async def test_secrets_pass_through_the_codec(db_url: str, store: SqlStore) -> None:
    coded = SqlStore(store.engine, secrets_codec=ReversingCodec())
    await coded.portals.upsert(portal())
    await coded.portals.save_tokens("m1", access_token="acc", refresh_token="ref", expires_at=5.0)

    async with store.engine.connect() as conn:
        raw = (
            await conn.execute(text("SELECT access_token, refresh_token, application_token FROM portals"))
        ).one()
    assert tuple(raw) == ("enc:cca", "enc:fer", "enc:nekot-ppa")
    auth = await coded.portals.load_auth("m1")
    assert (auth.access_token, auth.refresh_token) == ("acc", "ref")
    got = await coded.portals.get("m1")
    assert got is not None and got.application_token == "app-token"
    await coded.db.close()  # its own writer connection; the engine is the fixture's


# --- dialogues ------------------------------------------------------------------------------------


async def test_dialogue_window_is_the_last_turns_oldest_first(store: SqlStore) -> None:
    for n in range(6):
        role = "user" if n % 2 == 0 else "assistant"
        await store.dialogues.append("m1", "m1:chat1", Turn(role=role, text=f"t{n}", message_id=100 + n))
    await store.dialogues.append("m1", "m1:chat2", Turn(role="user", text="elsewhere"))
    await store.dialogues.append("m2", "m1:chat1", Turn(role="user", text="another portal"))

    window = await store.dialogues.last_turns("m1", "m1:chat1", limit=4)
    assert [t.text for t in window] == ["t2", "t3", "t4", "t5"]
    assert [t.role for t in window] == ["user", "assistant", "user", "assistant"]
    assert window[0].message_id == 102 and window[0].created_at > 0
    assert [t.text for t in await store.dialogues.last_turns("m1", "m1:chat2", limit=10)] == ["elsewhere"]
    assert await store.dialogues.last_turns("m1", "nothing", limit=10) == []


async def test_replayed_turn_is_stored_once(store: SqlStore) -> None:
    turn = Turn(role="user", text="Где мой заказ?", message_id=501, created_at=10.0)
    await store.dialogues.append("m1", "m1:chat1", turn)
    await store.dialogues.append("m1", "m1:chat1", turn)
    await store.dialogues.append("m1", "m1:chat1", Turn(role="assistant", text="Проверяю", message_id=501))
    await store.dialogues.append("m1", "m1:chat1", Turn(role="assistant", text="no id"))
    await store.dialogues.append("m1", "m1:chat1", Turn(role="assistant", text="no id"))

    window = await store.dialogues.last_turns("m1", "m1:chat1", limit=10)
    assert [(t.role, t.text) for t in window] == [
        ("user", "Где мой заказ?"),
        ("assistant", "Проверяю"),
        ("assistant", "no id"),
        ("assistant", "no id"),
    ]
    assert window[0] == turn


# --- effects --------------------------------------------------------------------------------------


async def test_effect_intent_is_idempotent_and_done_is_final(store: SqlStore) -> None:
    await store.inbox.add_many([item("e1")])
    [row] = await store.inbox.claim(limit=1, now=0.0)
    assert await store.effects.get(row.id, "reply") is None

    await store.effects.record_intent(row.id, "reply", {"text": "Здравствуйте!"})
    await store.effects.record_intent(row.id, "reply", {"text": "a different draft on replay"})
    intent = await store.effects.get(row.id, "reply")
    assert intent is not None
    assert (intent.status, intent.payload, intent.result) == ("intent", {"text": "Здравствуйте!"}, None)

    await store.effects.record_done(row.id, "reply", {"message_id": 9001})
    await store.effects.record_intent(row.id, "reply", {"text": "replayed again"})
    done = await store.effects.get(row.id, "reply")
    assert done is not None
    assert (done.status, done.result) == ("done", {"message_id": 9001})
    assert done.payload == {"text": "Здравствуйте!"}
    assert await store.effects.get(row.id, "transfer") is None


async def test_effect_for_an_unknown_inbox_row_is_a_storage_error(store: SqlStore) -> None:
    with pytest.raises(StorageError) as caught:
        await store.effects.record_intent(424242, "reply", {"text": "secret text"})
    assert "secret text" not in caught.value.message  # parameters never leak into errors


# --- ledger ---------------------------------------------------------------------------------------


def entry(member: str, *, inp: int, out: int, cost: float, cw: int = 0, cr: int = 0) -> LedgerEntry:
    return LedgerEntry(
        member_id=member,
        feature="answer",
        model="claude-sonnet-5-5",
        input_tokens=inp,
        output_tokens=out,
        cache_creation_input_tokens=cw,
        cache_read_input_tokens=cr,
        cost_usd=cost,
        latency_s=0.8,
        dialog_key=f"{member}:chat1",
        request_id="req_1",
        inbox_id=None,
    )


async def test_ledger_totals(store: SqlStore) -> None:
    zero = {
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cost_usd": 0.0,
    }
    assert await store.ledger.totals() == zero

    await store.ledger.add(entry("m1", inp=1000, out=200, cost=0.004, cw=500))
    await store.ledger.add(entry("m1", inp=300, out=100, cost=0.0015, cr=500))
    await store.ledger.add(entry("m2", inp=10, out=5, cost=0.25))

    m1 = await store.ledger.totals("m1")
    assert {k: v for k, v in m1.items() if k != "cost_usd"} == {
        "calls": 2,
        "input_tokens": 1300,
        "output_tokens": 300,
        "cache_creation_input_tokens": 500,
        "cache_read_input_tokens": 500,
    }
    assert m1["cost_usd"] == pytest.approx(0.0055)
    everything = await store.ledger.totals()
    assert (everything["calls"], everything["input_tokens"]) == (3, 1310)
    assert everything["cost_usd"] == pytest.approx(0.2555)
    assert await store.ledger.totals("nobody") == zero


# --- migrations -----------------------------------------------------------------------------------


def schema_differences(conn: Connection) -> list[Any]:
    # The lexical index (FTS5 virtual table and shadow tables; a GIN index on PostgreSQL) is not a Table.
    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return not is_search_index(name)

    context = MigrationContext.configure(conn, opts={"include_name": include_name})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_tables_and_rerun_as_a_no_op(db_url: str, store: SqlStore) -> None:
    await store.inbox.add_many([item("kept")])

    await migrate(db_url)
    await migrate(db_url)

    async with store.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [ScriptDirectory.from_config(alembic_config()).get_current_head()] == ["0008"]
        assert await conn.run_sync(schema_differences) == []
    assert (await store.inbox.counts())["pending"] == 1


# --- SQLite only ----------------------------------------------------------------------------------


async def test_sqlite_migrates_an_empty_file_from_scratch(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await migrate(url)
    store = await SqlStore.open(url)
    try:
        async with store.engine.connect() as conn:
            names = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            assert set(names.scalars()) >= {*TABLES, "alembic_version"}
    finally:
        await store.close()


async def test_sqlite_connection_settings(store: SqlStore) -> None:
    async with store.engine.connect() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}


async def test_sqlite_in_memory_store_keeps_writes_while_reading() -> None:
    store = await SqlStore.open("sqlite+aiosqlite://")
    try:
        writes = [store.inbox.add_many([item(f"e{n}"), item("e0")]) for n in range(20)]
        reads = [store.inbox.counts() for _ in range(20)]
        results = await asyncio.gather(*(op for pair in zip(writes, reads, strict=True) for op in pair))
        assert results[0] == [True, False]
        assert (await store.inbox.counts())["pending"] == 20
    finally:
        await store.close()


async def test_a_draft_is_decided_once_and_feedback_is_one_per_person(store: SqlStore) -> None:
    from b24claude.ports.supervision import Feedback, NewDraft

    new = NewDraft(
        member_id="m1",
        inbox_id=41,
        dialog_key="dlg:chat5",
        dialog_id="chat5",
        chat_id=5,
        bot_id=7,
        bot_api="v2",
        customer_id=400,
        language="ru",
        question="Сколько стоит доставка?",
        draft="590 ₽",
        citations=("delivery.md#Москва",),
        created_at=1.0,
    )
    draft = await store.supervision.add_draft(new)
    assert (await store.supervision.add_draft(new)).id == draft.id  # a replay of the row finds it
    assert draft.status == "pending" and draft.citations == ("delivery.md#Москва",)
    repo = store.supervision
    assert await repo.decide("m1", draft.id, status="edited", final="490 ₽", by=3, row=90, now=2.0)
    assert not await repo.decide("m1", draft.id, status="approved", final="590 ₽", by=4, row=91, now=3.0)
    # The winning row's replay (after a crash) still owns the decision.
    assert await repo.decide("m1", draft.id, status="edited", final="490 ₽", by=3, row=90, now=4.0)
    await repo.mark_sent("m1", draft.id, message_id=777, now=5.0)
    stored = await repo.get_draft("m1", draft.id)
    assert stored is not None and (stored.status, stored.final, stored.decided_by) == ("edited", "490 ₽", 3)
    assert stored.message_id == 777 and await repo.get_draft("m2", draft.id) is None
    assert [d.id for d in await repo.examples("m1")] == [draft.id] and await repo.examples("m2") == []
    rating = Feedback("m1", "rating", "dlg:chat5", "row:41", user_id=400, score=1, created_at=6.0)
    await repo.add_feedback(rating)
    await repo.add_feedback(
        Feedback("m1", "rating", "dlg:chat5", "row:41", user_id=400, score=-1, created_at=7.0)
    )
    await repo.add_feedback(Feedback("m1", "flag", "dlg:chat5", "msg:777", user_id=5, score=-1, note="цена"))
    [only] = await repo.feedback("m1", kind="rating")
    assert only.score == -1  # the same person's second press replaced the first
    assert [f.kind for f in await repo.feedback("m1")] == ["rating", "flag"]
