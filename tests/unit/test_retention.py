"""The scheduled purge: each portal's retention periods, finished inbox rows only, orphaned vault and
subject rows, log files, the audit record, and the periodic task of the container."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from b24claude.adapters.logfiles import FileLogArchive
from b24claude.adapters.sql import SqlStore
from b24claude.bootstrap import build
from b24claude.errors import StorageError
from b24claude.kit.clock import SystemClock
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.privacy import AuditRecord, DialogueSubject, VaultEntry
from b24claude.ports.store import LedgerEntry, NewInboxItem, Portal, Turn
from b24claude.privacy.policy import DAY_S, PrivacyPolicy, Retention
from b24claude.privacy.retention import RetentionService
from b24claude.settings import Settings

NOW = 1_800_000_000.0  # 2027-01-15
DAY = DAY_S


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    yield opened
    await opened.close()


def service(store: SqlStore, logs: FileLogArchive | None = None) -> RetentionService:
    return RetentionService(
        store=store.retention, portals=store.portals, audit=store.audit, logs=logs, clock=SystemClock()
    )


async def add_portal(
    store: SqlStore, member: str, retention: Retention | None, *, installed: bool = True
) -> None:
    settings = {} if retention is None else PrivacyPolicy(retention=retention).merged_into({})
    auth = PortalAuth(member, f"https://{member}.example/rest/", "a", "r", 0.0)
    await store.portals.upsert(
        Portal(member, f"{member}.example", auth, settings=settings, installed=installed)
    )


async def sql(store: SqlStore, statement: str, **params: Any) -> list[Any]:
    async with store.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


async def add_dialogue(store: SqlStore, member: str, key: str, *, age_days: float, author: int = 1) -> None:
    """A dialogue whose only turn, vault entry and subject binding are ``age_days`` old."""
    at = NOW - age_days * DAY
    await store.dialogues.append(member, key, Turn("user", "Звоните на [ТЕЛЕФОН_1]", None, at))
    await store.vault.add(member, key, [VaultEntry("[ТЕЛЕФОН_1]", "phone", "+7 900 000-00-01", "9000000001")])
    await store.subjects.bind(DialogueSubject(member, key, author_id=author))
    await sql(
        store,
        "UPDATE pii_vault SET created_at = :t WHERE member_id = :m AND dialog_key = :k",
        t=at,
        m=member,
        k=key,
    )
    await sql(
        store,
        "UPDATE dialogue_subjects SET updated_at = :t WHERE member_id = :m AND dialog_key = :k",
        t=at,
        m=member,
        k=key,
    )


async def add_inbox(store: SqlStore, member: str, key: str, *, status: str, age_days: float) -> int:
    [new] = await store.inbox.add_many(
        [NewInboxItem(member, key, "ONIMBOTV2MESSAGEADD", {"text": key}, f"{member}:dlg:{key}")]
    )
    assert new
    [(row_id,)] = await sql(store, "SELECT id FROM inbox WHERE member_id = :m AND key = :k", m=member, k=key)
    await sql(
        store,
        "UPDATE inbox SET status = :s, received_at = :t WHERE id = :i",
        s=status,
        t=NOW - age_days * DAY,
        i=row_id,
    )
    await store.effects.record_intent(row_id, "reply", {"text": f"reply to {key}"})
    return int(row_id)


async def add_ledger(store: SqlStore, member: str, *, age_days: float, cost: float = 0.01) -> None:
    await store.ledger.add(
        LedgerEntry(member, "answer", "claude", 10, 5, 0, 0, cost, 0.1, dialog_key="dlg:x")
    )
    await sql(
        store,
        "UPDATE llm_ledger SET created_at = :t WHERE id = (SELECT max(id) FROM llm_ledger)",
        t=NOW - age_days * DAY,
    )


async def count(store: SqlStore, table: str, member: str | None = None) -> int:
    where = "" if member is None else " WHERE member_id = :m"
    [(n,)] = await sql(store, f"SELECT count(*) FROM {table}{where}", m=member)
    return int(n)


# --- the purge by age -------------------------------------------------------------------------------


async def test_each_portal_is_purged_by_its_own_periods(store: SqlStore) -> None:
    await add_portal(store, "m1", Retention(dialogues_days=10, inbox_days=5, ledger_days=20, logs_days=0))
    await add_portal(store, "m2", Retention(dialogues_days=0, inbox_days=0, ledger_days=0, logs_days=0))
    for member in ("m1", "m2"):
        await add_dialogue(store, member, "dlg:old", age_days=11)
        await add_dialogue(store, member, "dlg:new", age_days=9)
        await add_inbox(store, member, "old", status="done", age_days=6)
        await add_inbox(store, member, "new", status="done", age_days=4)
        await add_ledger(store, member, age_days=21)
        await add_ledger(store, member, age_days=19)

    report = await service(store).purge(NOW)

    assert report.portals == {"m1": {"turns": 1, "vault": 1, "subjects": 1, "inbox": 1, "ledger": 1}}
    keys = await sql(store, "SELECT dialog_key FROM dialogue_turns WHERE member_id = 'm1'")
    assert [k for (k,) in keys] == ["dlg:new"]
    assert [e.placeholder for e in await store.vault.entries("m1", "dlg:new")] == ["[ТЕЛЕФОН_1]"]
    assert await store.vault.entries("m1", "dlg:old") == []
    assert await store.subjects.get("m1", "dlg:old") is None
    assert [k for (k,) in await sql(store, "SELECT key FROM inbox WHERE member_id = 'm1'")] == ["new"]
    assert (await store.ledger.totals("m1"))["calls"] == 1
    # the portal that keeps everything kept everything
    assert await count(store, "dialogue_turns", "m2") == 2
    assert await count(store, "pii_vault", "m2") == 2
    assert await count(store, "inbox", "m2") == 2
    assert (await store.ledger.totals("m2"))["calls"] == 2


async def test_default_periods_apply_to_portals_without_settings_or_record(store: SqlStore) -> None:
    """No privacy settings, an uninstalled portal, and data with no portal record: defaults (180/30/1095)."""
    await add_portal(store, "plain", None)
    await add_portal(store, "gone", None, installed=False)
    for member in ("plain", "gone", "unknown"):
        await add_dialogue(store, member, "dlg:a", age_days=181)
        await add_dialogue(store, member, "dlg:b", age_days=179)
        await add_inbox(store, member, "a", status="done", age_days=31)
        await add_inbox(store, member, "b", status="done", age_days=29)

    report = await service(store).purge(NOW)

    assert set(report.portals) == {"plain", "gone", "unknown"}
    for member in ("plain", "gone", "unknown"):
        assert report.portals[member]["turns"] == 1
        assert report.portals[member]["inbox"] == 1
        assert await count(store, "dialogue_turns", member) == 1
        assert await count(store, "inbox", member) == 1


async def test_pending_and_processing_rows_are_never_purged(store: SqlStore) -> None:
    await add_portal(store, "m1", Retention(inbox_days=1))
    ids = {
        status: await add_inbox(store, "m1", status, status=status, age_days=400)
        for status in ("pending", "processing", "done", "failed", "ignored")
    }

    report = await service(store).purge(NOW)

    assert report.portals["m1"]["inbox"] == 3
    left = await sql(store, "SELECT status FROM inbox ORDER BY id")
    assert [s for (s,) in left] == ["pending", "processing"]
    # the effects of the purged rows went with them, the others' stayed
    effect_rows = await sql(store, "SELECT inbox_id FROM effects ORDER BY inbox_id")
    assert [i for (i,) in effect_rows] == [ids["pending"], ids["processing"]]


async def test_vault_rows_of_a_dialogue_still_in_use_are_kept(store: SqlStore) -> None:
    """A long dialogue loses its old turns; its vault stays while any turn refers to it. A vault entry
    written just now, before its dialogue's first turn, is not an orphan either."""
    await add_portal(store, "m1", Retention(dialogues_days=10))
    await add_dialogue(store, "m1", "dlg:long", age_days=30)
    await store.dialogues.append("m1", "dlg:long", Turn("user", "Снова [ТЕЛЕФОН_1]", None, NOW - DAY))
    await store.vault.add("m1", "dlg:fresh", [VaultEntry("[ИМЯ_1]", "name", "Анна")])
    await sql(store, "UPDATE pii_vault SET created_at = :t WHERE dialog_key = 'dlg:fresh'", t=NOW)

    report = await service(store).purge(NOW)

    assert report.portals["m1"] == {"turns": 1, "vault": 0, "subjects": 0, "inbox": 0, "ledger": 0}
    assert [e.value for e in await store.vault.entries("m1", "dlg:long")] == ["+7 900 000-00-01"]
    assert await store.subjects.get("m1", "dlg:long") is not None
    assert [e.value for e in await store.vault.entries("m1", "dlg:fresh")] == ["Анна"]


async def test_one_audit_record_per_portal_that_lost_something(store: SqlStore) -> None:
    await add_portal(store, "m1", Retention(dialogues_days=10))
    await add_portal(store, "m2", Retention(dialogues_days=10))
    await add_dialogue(store, "m1", "dlg:old", age_days=11)
    await add_dialogue(store, "m2", "dlg:new", age_days=1)

    await service(store).purge(NOW, actor="cli")

    [record] = await store.audit.list("m1")
    assert (record.action, record.actor, record.subject) == ("purge", "cli", "")
    assert record.details == {"turns": 1, "vault": 1, "subjects": 1, "inbox": 0, "ledger": 0}
    assert await store.audit.list("m2") == []
    # purging again finds nothing and records nothing
    again = await service(store).purge(NOW)
    assert again.portals == {}
    assert len(await store.audit.list("m1")) == 1


async def test_purge_of_one_portal_leaves_the_others(store: SqlStore) -> None:
    for member in ("m1", "m2"):
        await add_portal(store, member, Retention(dialogues_days=10))
        await add_dialogue(store, member, "dlg:old", age_days=11)

    report = await service(store).purge(NOW, member_id="m2")

    assert set(report.portals) == {"m2"}
    assert await count(store, "dialogue_turns", "m1") == 1
    assert await count(store, "dialogue_turns", "m2") == 0


async def test_unreadable_privacy_settings_fall_back_to_the_defaults(store: SqlStore) -> None:
    auth = PortalAuth("m1", "https://m1.example/rest/", "a", "r", 0.0)
    await store.portals.upsert(Portal("m1", "m1.example", auth, settings={"privacy": {"retention": "soon"}}))
    await add_dialogue(store, "m1", "dlg:a", age_days=200)

    report = await service(store).purge(NOW)

    assert report.portals["m1"]["turns"] == 1


# --- log files ------------------------------------------------------------------------------------


def write_day(root: Path, owner: str, day: str, records: list[dict[str, Any]]) -> Path:
    path = root / owner / f"{day}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


async def test_log_files_older_than_the_portal_period_are_deleted(store: SqlStore, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    await add_portal(store, "m1", Retention(logs_days=7))
    await add_portal(store, "m2", Retention(logs_days=0))
    # NOW is 2027-01-15 (UTC): with 7 days, 2027-01-08 is the first day kept.
    for owner in ("m1", "m2", "m3", "_service"):
        for day in ("2026-12-01", "2027-01-07", "2027-01-08", "2027-01-15"):
            write_day(root, owner, day, [{"event": "x"}])
    (root / "m1" / "notes.txt").write_text("kept", encoding="utf-8")

    report = await service(store, FileLogArchive(root)).purge(NOW)

    def days(owner: str) -> list[str]:
        return sorted(p.name for p in (root / owner).iterdir())

    assert days("m1") == ["2027-01-08.jsonl", "2027-01-15.jsonl", "notes.txt"]
    assert report.portals["m1"] == {
        "turns": 0,
        "vault": 0,
        "subjects": 0,
        "inbox": 0,
        "ledger": 0,
        "log_files": 2,
    }
    assert len(days("m2")) == 4  # keeps its logs
    # a directory of a portal the database does not know, and the service's own logs: 30 days
    assert days("m3") == ["2027-01-07.jsonl", "2027-01-08.jsonl", "2027-01-15.jsonl"]
    assert days("_service") == ["2027-01-07.jsonl", "2027-01-08.jsonl", "2027-01-15.jsonl"]
    assert report.service_log_files == 1


async def test_dropping_log_lines_keeps_the_file_and_the_other_lines(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    path = write_day(
        root,
        "m1",
        "2027-01-15",
        [
            {"event": "a", "dialog_key": "dlg:chat1"},
            {"event": "b", "dialog_key": "m1:dlg:chat1"},
            {"event": "c", "dialog_key": "dlg:chat2"},
            {"event": "d", "note": "ivan@example.ru"},
            {"event": "e"},
            {"event": "f", "inbox_id": 7},
            {"event": "g", "inbox_id": 8},
        ],
    )
    with path.open("a", encoding="utf-8") as f:
        f.write("not json ivan@example.ru\n")
    inode = os.stat(path).st_ino
    archive = FileLogArchive(root)

    about = {"dialog_keys": ["dlg:chat1"], "inbox_ids": [7], "text_match": lambda s: "ivan@" in s}
    assert [r.get("event") for r in await archive.lines("m1", **about)] == ["a", "b", "d", "f", None]
    dropped = await archive.drop_lines("m1", **about)

    assert dropped == 5
    assert os.stat(path).st_ino == inode  # rewritten in place: an open log handler keeps appending to it
    kept = [json.loads(line)["event"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert kept == ["c", "e", "g"]
    assert await archive.drop_lines("m2", dialog_keys=["dlg:chat2"]) == 0  # no such portal directory
    assert await archive.drop_lines("../m1", dialog_keys=["dlg:chat2"]) == 0  # never outside the root
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


# --- the periodic task ------------------------------------------------------------------------------


class FlakyStore:
    """The real retention store, failing its first ``members`` call (a database that was away)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def members(self) -> list[str]:
        self.calls += 1
        if self.calls == 1:
            raise StorageError("retention.members: database is locked")
        return list(await self._inner.members())


class WatchedAudit:
    """The real audit repository, telling the test when a purge record is written."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.purged = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def add(self, record: AuditRecord) -> int:
        record_id = int(await self._inner.add(record))
        if record.action == "purge":
            self.purged.set()
        return record_id


async def test_the_periodic_purge_survives_an_error_and_stops(store: SqlStore) -> None:
    await add_portal(store, "m1", Retention(dialogues_days=1))
    await store.dialogues.append("m1", "dlg:a", Turn("user", "привет", None, time.time() - 3 * DAY))
    flaky, audit = FlakyStore(store.retention), WatchedAudit(store.audit)
    purger = RetentionService(store=flaky, portals=store.portals, audit=audit, clock=SystemClock())

    task = asyncio.create_task(purger.run(0.01))
    await asyncio.wait_for(audit.purged.wait(), 10)
    await purger.stop()
    await asyncio.wait_for(task, 10)

    assert flaky.calls >= 2  # the first run failed, a later one purged
    assert await count(store, "dialogue_turns") == 0
    assert [r.action for r in await store.audit.list("m1")] == ["purge"]


async def test_the_container_runs_the_purge_and_stops_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    seed = await SqlStore.open(url)
    await add_portal(seed, "m1", Retention(dialogues_days=1))
    await seed.dialogues.append("m1", "dlg:a", Turn("user", "привет", None, time.time() - 3 * DAY))
    await seed.close()
    settings = Settings(
        database_url=url,
        purge_interval_s=3600.0,
        log_dir=str(tmp_path / "logs"),
        secret_key_file=str(tmp_path / "b24claude.key"),  # the keyring's, once secrets are encrypted
    )
    container = await build(settings)
    task_names: set[str] = set()
    purged = False
    await container.start()
    try:
        task_names = {t.get_name() for t in container._tasks}
        for _ in range(1000):  # the first purge runs at start; wait for its record (at most ~10 s)
            if purged := bool(await container.store.audit.list("m1")):
                break
            await asyncio.sleep(0.01)
    finally:
        await container.stop()
    assert "retention-purge" in task_names
    assert purged
    assert container._tasks == []
