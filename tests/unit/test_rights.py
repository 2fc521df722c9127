"""Erasure and export of one person: after ``erase`` nothing of theirs is left in any table or log file,
while another person's data, and another portal's, is untouched; ``export`` gives their text back.

The world: portal m1 holds person X (phone, e-mail, name; CRM contact 501; chat user 77) in four
dialogues and one stray event, and person Y (contact 502, user 88); portal m2 holds person W, whose
dialogue has the same key as X's first one and whose chat user has X's user id.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from b24claude.adapters.logfiles import FileLogArchive
from b24claude.adapters.sql import SqlStore
from b24claude.adapters.sql.tables import metadata
from b24claude.bootstrap import build_keyring, open_store
from b24claude.cli.main import app
from b24claude.errors import BadRequest
from b24claude.kit.clock import SystemClock
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.privacy import DialogueSubject, VaultEntry
from b24claude.ports.store import LedgerEntry, NewInboxItem, Portal, Turn
from b24claude.privacy.rights import Person, PrivacyRights, restore
from b24claude.settings import Settings

X_PHONE, X_PHONE_DIGITS = "+7 (912) 345-67-89", "9123456789"
X_EMAIL = "Ivan.Petrov@Example.ru"
X_NAME = "Иван Петров"
X_KEYS = ("dlg:chat10", "dlg:chat11", "dlg:chat12", "dlg:chat13")
Y_PHONE, Y_PHONE_DIGITS = "+7 903 111-22-33", "9031112233"
Y_EMAIL = "olga@mail.ru"
Y_NAME = "Ольга Смирнова"
W_PHONE_DIGITS = "9265554433"


class ReversingCodec:
    """Vault values are not stored as written: the dump has to decode them to see them."""

    def encode(self, plain: str) -> str:
        return "enc:" + plain[::-1]

    def decode(self, stored: str) -> str:
        return stored.removeprefix("enc:")[::-1]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
async def store(db_url: str, log_dir: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(db_url, secrets_codec=ReversingCodec())
    await populate(opened, log_dir)
    yield opened
    await opened.close()


@pytest.fixture
def rights(store: SqlStore, log_dir: Path) -> PrivacyRights:
    return PrivacyRights(
        store=store.retention,
        vault=store.vault,
        subjects=store.subjects,
        consents=store.consents,
        audit=store.audit,
        logs=FileLogArchive(log_dir),
        digest=store.digest,
        clock=SystemClock(),
    )


# --- the world ------------------------------------------------------------------------------------


def v2_event(text_: str, *, dialog: str, author: int) -> dict[str, Any]:
    """An inbox payload as the v2 fetch stores it: the raw message text inside."""
    return {
        "api": "v2",
        "event": "ONIMBOTV2MESSAGEADD",
        "data": {"chat": {"dialogId": dialog}, "message": {"text": text_, "authorId": author}},
    }


async def add_event(store: SqlStore, member: str, key: str, dialog: str, payload: dict[str, Any]) -> int:
    stored_dialog = f"{member}:dlg:{dialog}" if dialog else ""
    await store.inbox.add_many([NewInboxItem(member, key, "ONIMBOTV2MESSAGEADD", payload, stored_dialog)])
    async with store.engine.connect() as conn:
        row_id = (
            await conn.execute(
                text("SELECT id FROM inbox WHERE member_id = :m AND key = :k"), {"m": member, "k": key}
            )
        ).scalar_one()
    await store.inbox.mark_done(int(row_id))
    return int(row_id)


async def dialogue(
    store: SqlStore,
    member: str,
    dialog: str,
    *,
    author: int,
    contact: int | None,
    user: str,
    assistant: str,
    raw: str,
    reply: str,
    vault: list[VaultEntry],
    event_key: str,
) -> int:
    """A dialogue of two turns from one inbox event; returns the event's inbox id."""
    key = f"dlg:{dialog}"
    inbox_id = await add_event(store, member, event_key, dialog, v2_event(raw, dialog=dialog, author=author))
    await store.dialogues.append(member, key, Turn("user", user, 1000 + inbox_id))
    await store.dialogues.append(member, key, Turn("assistant", assistant, 2000 + inbox_id))
    await store.vault.add(member, key, vault)
    if author or contact:
        await store.subjects.bind(DialogueSubject(member, key, author_id=author, contact_id=contact))
    await store.effects.record_intent(inbox_id, "reply", {"text": reply, "dialog_id": dialog})
    await store.effects.record_done(inbox_id, "reply", {"message_id": 2000 + inbox_id})
    await store.ledger.add(
        LedgerEntry(member, "answer", "claude-sonnet-5-5", 100, 20, 0, 0, 0.01, 0.5, key, "req", inbox_id)
    )
    return inbox_id


def log_line(**fields: Any) -> str:
    return json.dumps({"ts": "2027-01-15T10:00:00Z", "level": "info", **fields}, ensure_ascii=False) + "\n"


async def populate(store: SqlStore, log_dir: Path) -> None:
    for member in ("m1", "m2"):
        auth = PortalAuth(member, f"https://{member}.example/rest/", "a", "r", 0.0)
        await store.portals.upsert(Portal(member, f"{member}.example", auth))
    x_vault = [
        VaultEntry("[ИМЯ_1]", "name", X_NAME),
        VaultEntry("[ТЕЛЕФОН_1]", "phone", X_PHONE, X_PHONE_DIGITS),
        VaultEntry("[EMAIL_1]", "email", X_EMAIL, X_EMAIL.lower()),
    ]
    # X: the dialogue where they gave their data
    await dialogue(
        store, "m1", "chat10", author=77, contact=501, event_key="x1",
        raw=f"Меня зовут {X_NAME}, телефон {X_PHONE}, почта {X_EMAIL}",
        user="Меня зовут [ИМЯ_1], телефон [ТЕЛЕФОН_1], почта [EMAIL_1]",
        assistant="Спасибо, [ИМЯ_1]! Перезвоним на [ТЕЛЕФОН_1].",
        reply=f"Спасибо, {X_NAME}! Перезвоним на {X_PHONE}.",
        vault=x_vault,
    )  # fmt: skip
    # X: another dialogue of the same chat user, nothing personal in it
    x_retried = await dialogue(
        store, "m1", "chat11", author=77, contact=None, event_key="x2",
        raw="Когда привезут заказ 4815162342?", user="Когда привезут заказ 4815162342?",
        assistant="Завтра.", reply="Завтра.", vault=[],
    )  # fmt: skip
    # X: an old dialogue stored before pseudonymisation (raw e-mail in the turn), bound to the user
    await dialogue(
        store, "m1", "chat12", author=77, contact=None, event_key="x3",
        raw=f"Пишите на {X_EMAIL.upper()}", user=f"Пишите на {X_EMAIL.upper()}",
        assistant="Хорошо.", reply="Хорошо.", vault=[],
    )  # fmt: skip
    # X: a dialogue nothing indexes — only the raw event knows the phone (another written form)
    await dialogue(
        store, "m1", "chat13", author=0, contact=None, event_key="x4",
        raw="Это снова я, 8-912-345-67-89, ivan.petrov@example.ru", user="Это снова я, [ТЕЛЕФОН_1], [EMAIL_1]",
        assistant="Слушаю.", reply="Слушаю.", vault=[],
    )  # fmt: skip
    # X: a stray event outside any dialogue (a command), phone written yet another way
    await add_event(store, "m1", "x5", "", {"api": "v1", "event": "ONIMCOMMANDADD", "data": {"PARAMS": {
        "MESSAGE": "/callback 8 912 3456789 IVAN.Petrov@example.ru"}}})  # fmt: skip
    await store.consents.set("m1", "user:77", True, source="chat")
    # Y, same portal
    y_retried = await dialogue(
        store, "m1", "chat20", author=88, contact=502, event_key="y1",
        raw=f"Я {Y_NAME}, мой номер {Y_PHONE}, {Y_EMAIL}",
        user="Я [ИМЯ_1], мой номер [ТЕЛЕФОН_1], [EMAIL_1]",
        assistant="Записали, [ИМЯ_1].", reply=f"Записали, {Y_NAME}.",
        vault=[
            VaultEntry("[ИМЯ_1]", "name", Y_NAME),
            VaultEntry("[ТЕЛЕФОН_1]", "phone", Y_PHONE, Y_PHONE_DIGITS),
            VaultEntry("[EMAIL_1]", "email", Y_EMAIL, Y_EMAIL),
        ],
    )  # fmt: skip
    await store.consents.set("m1", "user:88", False, source="chat")
    # W, another portal: X's dialogue key and chat user id, none of X's values
    await dialogue(
        store, "m2", "chat10", author=77, contact=501, event_key="x1",
        raw="Номер 8 926 555-44-33", user="Номер [ТЕЛЕФОН_1]", assistant="Ок.", reply="Ок.",
        vault=[VaultEntry("[ТЕЛЕФОН_1]", "phone", "8 926 555-44-33", W_PHONE_DIGITS)],
    )  # fmt: skip
    await store.consents.set("m2", "user:77", True, source="chat")
    # log files
    m1 = log_dir / "m1"
    m1.mkdir(parents=True)
    (m1 / "2027-01-14.jsonl").write_text(
        log_line(event="message received", dialog_key="m1:dlg:chat10")
        + log_line(event="answer sent", dialog_key="dlg:chat10", text="Спасибо, [ИМЯ_1]!")
        + log_line(event="answer sent", dialog_key="dlg:chat20")
        + log_line(event="crm lookup", phone="+79123456789", email=X_EMAIL.lower())
        + log_line(event="heartbeat"),
        encoding="utf-8",
    )
    (m1 / "2027-01-15.jsonl").write_text(
        log_line(event="message received", dialog_key="dlg:chat13")
        + log_line(event="event will be retried", member_id="m1", inbox_id=x_retried)
        + log_line(event="event will be retried", member_id="m1", inbox_id=y_retried)
        + log_line(event="answer sent", dialog_key="dlg:chat20"),
        encoding="utf-8",
    )
    m2 = log_dir / "m2"
    m2.mkdir(parents=True)
    (m2 / "2027-01-15.jsonl").write_text(
        log_line(event="answer sent", dialog_key="dlg:chat10"), encoding="utf-8"
    )


# --- everything the service holds -----------------------------------------------------------------


async def dump(store: SqlStore, log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (vault values decrypted) and every log line, each with its portal."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with store.engine.connect() as conn:
        inbox_member = dict((await conn.execute(text("SELECT id, member_id FROM inbox"))).all())
        for table in metadata.sorted_tables:
            rows = [dict(r._mapping) for r in (await conn.execute(select(table))).all()]
            for row in rows:
                if table.name == "pii_vault":
                    row["value"] = store.secrets_codec.decode(row["value"])
                if table.name == "effects":
                    row["member_id"] = inbox_member[row["inbox_id"]]
            out[table.name] = rows
    out["logs"] = log_lines(log_dir)
    return out


def log_lines(log_dir: Path) -> list[dict[str, Any]]:
    return [
        {"member_id": path.parent.name, "file": path.name, "line": line}
        for path in sorted(log_dir.rglob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def flat(rows: dict[str, list[dict[str, Any]]], member: str | None = None) -> str:
    chosen = [r for table in rows.values() for r in table if member is None or r.get("member_id") == member]
    return json.dumps(chosen, ensure_ascii=False, default=str)


def digits(text_: str) -> str:
    return re.sub(r"\D", "", text_)


def leaves(value: Any) -> list[str]:
    """Every scalar inside a value (JSON cells and log lines opened up), as text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return leaves(json.loads(value))
        except ValueError:
            return [value]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in leaves(v)]
    return [str(value)]


def holds_phone(everything: Any, phone_digits: str) -> bool:
    """Whether any stored value (a cell, a string in a JSON cell, a log line's field) holds the phone's
    digits, however written."""
    return any(phone_digits in digits(leaf) for leaf in leaves(everything))


def assert_no_trace_of_x(everything: dict[str, list[dict[str, Any]]]) -> None:
    whole = flat(everything)
    for value in (X_NAME, "Петров", X_EMAIL.lower(), "ivan.petrov", "IVAN.PETROV"):
        assert value not in whole, value
    assert not holds_phone(everything, X_PHONE_DIGITS)
    in_m1 = flat(everything, "m1")
    for key in X_KEYS:
        assert f'"{key}"' not in in_m1 and f'"m1:{key}"' not in in_m1, key
    assert '"user:77"' not in in_m1


def rows_of(everything: dict[str, list[dict[str, Any]]], member: str) -> dict[str, list[dict[str, Any]]]:
    return {t: [r for r in rows if r.get("member_id") == member] for t, rows in everything.items()}


def y_rows(everything: dict[str, list[dict[str, Any]]]) -> list[str]:
    """m1's rows that belong to Y (by dialogue, consent), as text, ledger included."""
    return sorted(
        json.dumps(r, ensure_ascii=False, default=str, sort_keys=True)
        for table in rows_of(everything, "m1").values()
        for r in table
        if "chat20" in json.dumps(r, ensure_ascii=False, default=str) or r.get("client_key") == "user:88"
    )


# --- erase ----------------------------------------------------------------------------------------


async def test_erase_by_phone_leaves_nothing_of_the_person(
    store: SqlStore, rights: PrivacyRights, log_dir: Path
) -> None:
    before = await dump(store, log_dir)
    assert holds_phone(before, X_PHONE_DIGITS) and X_NAME in flat(before)  # the test can fail

    report = await rights.erase("m1", phone="8 912 345 67 89", actor="cli")

    after = await dump(store, log_dir)
    assert_no_trace_of_x(after)
    assert report.dialogues == 4
    assert report.counts["turns"] == 8 and report.counts["inbox"] == 5 and report.counts["consents"] == 1
    assert report.counts["log_lines"] == 5
    # Y and the other portal are untouched
    assert y_rows(after) == y_rows(before) and len(y_rows(after)) >= 8
    assert rows_of(after, "m2") == rows_of(before, "m2")
    whole = flat(after)
    assert Y_NAME in whole and Y_EMAIL in whole and holds_phone(after, Y_PHONE_DIGITS)
    y_retried = next(r["id"] for r in after["inbox"] if r["key"] == "y1")
    assert [line["line"] for line in after["logs"] if line["member_id"] == "m1"] == [
        log_line(event="answer sent", dialog_key="dlg:chat20").strip(),
        log_line(event="heartbeat").strip(),
        log_line(event="event will be retried", member_id="m1", inbox_id=y_retried).strip(),
        log_line(event="answer sent", dialog_key="dlg:chat20").strip(),
    ]
    # the ledger keeps the cost of X's calls, unlinked from them
    assert (await store.ledger.totals("m1"))["calls"] == 5
    assert sum(1 for r in after["llm_ledger"] if r["member_id"] == "m1" and r["dialog_key"] == "") == 4
    # and the erasure is on record, without the phone
    [record] = [r for r in await store.audit.list("m1") if r.action == "erase"]
    assert record.actor == "cli" and record.subject.startswith("phone:")
    assert record.details["dialogues"] == 4 and record.details["turns"] == 8
    assert not holds_phone([record.subject, dict(record.details)], X_PHONE_DIGITS)


async def test_erase_by_email_finds_the_same_person(
    store: SqlStore, rights: PrivacyRights, log_dir: Path
) -> None:
    before = await dump(store, log_dir)

    report = await rights.erase("m1", email="IVAN.petrov@example.RU", actor="admin:1")

    after = await dump(store, log_dir)
    assert_no_trace_of_x(after)
    assert report.dialogues == 4
    assert y_rows(after) == y_rows(before)
    assert rows_of(after, "m2") == rows_of(before, "m2")
    [record] = [r for r in await store.audit.list("m1") if r.action == "erase"]
    assert "petrov" not in record.subject.lower() and record.subject.startswith("email:")


async def test_erase_by_contact_takes_the_contacts_dialogues_and_its_chat_users(
    store: SqlStore, rights: PrivacyRights, log_dir: Path
) -> None:
    before = await dump(store, log_dir)

    report = await rights.erase("m1", contact_id=501, actor="cli")

    after = await dump(store, log_dir)
    in_m1 = flat(after, "m1")
    # chat10 (the contact's), chat11 and chat12 (its chat user's) are gone, with everything in them
    assert report.dialogues == 3
    for key in ("dlg:chat10", "dlg:chat11", "dlg:chat12"):
        assert f'"{key}"' not in in_m1 and f'"m1:{key}"' not in in_m1
    assert X_NAME not in flat(after) and X_EMAIL.upper() not in flat(after)
    assert '"user:77"' not in in_m1
    # what names neither the contact nor its chat user cannot be found by the contact alone:
    # erasing by contact AND phone reaches it (next test)
    assert '"m1:dlg:chat13"' in in_m1
    assert y_rows(after) == y_rows(before)
    assert rows_of(after, "m2") == rows_of(before, "m2")
    [record] = [r for r in await store.audit.list("m1") if r.action == "erase"]
    assert record.subject == "contact:501"


async def test_selectors_combine(store: SqlStore, rights: PrivacyRights, log_dir: Path) -> None:
    report = await rights.erase("m1", contact_id=501, phone=X_PHONE, actor="cli")

    assert report.dialogues == 4
    assert_no_trace_of_x(await dump(store, log_dir))


async def test_erasing_someone_unknown_changes_nothing_but_is_recorded(
    store: SqlStore, rights: PrivacyRights, log_dir: Path
) -> None:
    before = await dump(store, log_dir)

    report = await rights.erase("m1", phone="+7 999 000-00-00", actor="cli")

    after = await dump(store, log_dir)
    assert report.dialogues == 0 and sum(report.counts.values()) == 0
    assert {t: r for t, r in after.items() if t != "audit_log"} == {
        t: r for t, r in before.items() if t != "audit_log"
    }
    assert [r.action for r in await store.audit.list("m1")] == ["erase"]


async def test_a_person_must_be_named(rights: PrivacyRights, store: SqlStore) -> None:
    with pytest.raises(BadRequest):
        await rights.erase("m1", actor="cli")
    with pytest.raises(BadRequest):
        await rights.export("m1", phone="", email=None, actor="cli")
    with pytest.raises(BadRequest):
        await rights.erase("m1", phone="12-34", actor="cli")
    with pytest.raises(BadRequest):
        await rights.erase("m1", email="not an address", actor="cli")
    assert await store.audit.list("m1") == []


async def test_the_scan_reads_every_row_of_the_portal_once_whatever_the_page(store: SqlStore) -> None:
    for source, table in (("inbox", "inbox"), ("dialogue_turns", "dialogue_turns")):
        whole = [r async for r in store.retention.scan("m1", source)]
        paged = [r async for r in store.retention.scan("m1", source, page=2)]
        async with store.engine.connect() as conn:
            expected = (
                await conn.execute(text(f"SELECT count(*) FROM {table} WHERE member_id = 'm1'"))
            ).scalar_one()
        assert len(whole) == expected >= 6
        assert sorted(r.row_id for r in paged) == sorted(r.row_id for r in whole)
        assert len({r.row_id for r in paged}) == expected
    [stray] = [r async for r in store.retention.scan("m1", "inbox") if r.dialog_key == ""]
    assert "/callback" in json.dumps(stray.content, ensure_ascii=False)
    replies = [
        r.content["effects"]
        async for r in store.retention.scan("m1", "inbox")
        if r.dialog_key == "dlg:chat10"
    ]
    assert X_NAME in json.dumps(replies, ensure_ascii=False)  # the reply's text is searched too


# --- export ---------------------------------------------------------------------------------------


async def test_export_gives_back_the_persons_text_with_real_values(
    rights: PrivacyRights, store: SqlStore
) -> None:
    data = await rights.export("m1", phone="89123456789", actor="cli")

    dialogues = {d["dialog_key"]: d for d in data["dialogues"]}
    assert sorted(dialogues) == list(X_KEYS)
    chat10 = dialogues["dlg:chat10"]
    assert [t["text"] for t in chat10["turns"]] == [
        f"Меня зовут {X_NAME}, телефон {X_PHONE}, почта {X_EMAIL}",
        f"Спасибо, {X_NAME}! Перезвоним на {X_PHONE}.",
    ]
    assert chat10["subject"] == {"author_id": 77, "contact_id": 501, "lead_id": None, "company_id": None}
    assert {p["placeholder"]: p["value"] for p in chat10["pii"]}["[ТЕЛЕФОН_1]"] == X_PHONE
    assert data["consents"] == [{"client_key": "user:77", "granted": True}]
    assert len(data["inbox_events"]) == 5  # the four dialogues' events and the stray command
    assert data["ledger"]["calls"] == 4 and data["ledger"]["cost_usd"] == pytest.approx(0.04)
    assert [line["event"] for line in data["logs"]] == [
        "message received",  # chat10
        "answer sent",  # chat10
        "crm lookup",  # no dialogue, but the phone
        "message received",  # chat13
        "event will be retried",  # chat11's event
    ]
    exported = json.dumps(data, ensure_ascii=False)
    assert Y_NAME not in exported and not holds_phone(data, Y_PHONE_DIGITS) and "chat20" not in exported
    [record] = await store.audit.list("m1")
    assert (record.action, record.details["dialogues"], record.details["turns"]) == ("export", 4, 8)
    assert not holds_phone(record.subject, X_PHONE_DIGITS)
    # export takes nothing away
    assert len(await store.retention.turns("m1", "dlg:chat10")) == 2


def test_restore_replaces_each_placeholder_once() -> None:
    entries = [
        VaultEntry("[ТЕЛЕФОН_1]", "phone", "+7 900 000-00-01"),
        VaultEntry("[ТЕЛЕФОН_10]", "phone", "[ТЕЛЕФОН_1]"),  # a value that looks like a placeholder
    ]
    assert restore("[ТЕЛЕФОН_10] и [ТЕЛЕФОН_1]", entries) == "[ТЕЛЕФОН_1] и +7 900 000-00-01"
    assert restore("без данных", []) == "без данных"


# --- the value in any written form --------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "+7 (912) 345-67-89",
        "+79123456789",
        "89123456789",
        "8 912 345 67 89",
        "8-912-345-67-89",
        "8 (912) 3456789",
        "7 912 345 6789",
        "тел.9123456789.",
        "+7\u00a0912\u00a0345\u00a067\u00a089",
    ],
)
def test_a_phone_is_found_in_any_written_form(written: str) -> None:
    match = Person.of(phone="+7 912 345-67-89").matcher()
    assert match is not None
    assert match(f"мой номер {written} звоните")


@pytest.mark.parametrize(
    "text_",
    [
        "заказ 19123456789",
        "89123456780",
        "912345678",
        "трек 91234567890",
        "+7 912 345-67-8",
        "арт. 1-912-345-67-89",
        "8-912-345-67-89-0",
    ],
)
def test_numbers_that_only_look_like_the_phone_do_not_match(text_: str) -> None:
    match = Person.of(phone="8 912 345 67 89").matcher()
    assert match is not None
    assert not match(text_)


def test_an_email_is_found_whatever_its_case_and_not_inside_another() -> None:
    match = Person.of(email="Ivan.Petrov@Example.ru").matcher()
    assert match is not None
    assert match("почта: IVAN.PETROV@EXAMPLE.RU.")
    assert match("mailto:ivan.petrov@example.ru")
    assert not match("ivan.petrov@example.ru.com")
    assert not match("a.ivan.petrov@example.ru")


# --- the CLI ----------------------------------------------------------------------------------------


def cli_env(db_url: str, log_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24C_", "ANTHROPIC_"))}
    return {
        **env,
        "B24C_DATABASE_URL": db_url,
        "B24C_LOG_DIR": str(log_dir),
        "B24C_SECRET_KEY_FILE": str(log_dir.parent / "b24claude.key"),
        "COLUMNS": "200",
    }


def cli(args: list[str], *, db_url: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    """The command as an admin runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "b24claude.cli.main", "privacy", *args],
        env=cli_env(db_url, log_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


def service_settings(db_url: str, log_dir: Path) -> Settings:
    return Settings(
        database_url=db_url, log_dir=str(log_dir), secret_key_file=str(log_dir.parent / "b24claude.key")
    )


def seed(db_url: str, log_dir: Path) -> None:
    """The world in a database opened as the service (and so the CLI) opens it: its codec, its digest."""

    async def work() -> None:
        settings = service_settings(db_url, log_dir)
        opened = await open_store(settings, build_keyring(settings))
        await populate(opened, log_dir)
        await opened.close()

    asyncio.run(work())


def snapshot(db_url: str, log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    async def work() -> dict[str, list[dict[str, Any]]]:
        settings = service_settings(db_url, log_dir)
        opened = await open_store(settings, build_keyring(settings))
        try:
            return await dump(opened, log_dir)
        finally:
            await opened.close()

    return asyncio.run(work())


def test_cli_export_then_erase(db_url: str, log_dir: Path, tmp_path: Path) -> None:
    seed(db_url, log_dir)
    out = tmp_path / "x.json"

    exported = cli(
        ["export", "--portal", "m1", "--phone", "8 912 345-67-89", "--out", str(out)],
        db_url=db_url,
        log_dir=log_dir,
    )
    erased = cli(["erase", "--portal", "m1", "--phone", X_PHONE, "--yes"], db_url=db_url, log_dir=log_dir)

    assert exported.returncode == 0, exported.stderr
    assert "Exported / Выгружено" in exported.stderr
    assert os.stat(out).st_mode & 0o777 == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    chat10 = next(d for d in data["dialogues"] if d["dialog_key"] == "dlg:chat10")
    assert chat10["turns"][0]["text"] == f"Меня зовут {X_NAME}, телефон {X_PHONE}, почта {X_EMAIL}"
    assert erased.returncode == 0, erased.stderr
    assert "Erased / Удалено" in erased.stdout and "turns / реплик: 8" in erased.stdout
    after = snapshot(db_url, log_dir)
    assert_no_trace_of_x(after)
    assert Y_NAME in flat(after)
    assert [r["action"] for r in after["audit_log"]] == ["export", "erase"]


def test_cli_asks_before_erasing_and_shows_the_audit_trail(db_url: str, log_dir: Path) -> None:
    seed(db_url, log_dir)
    runner = CliRunner()
    env = cli_env(db_url, log_dir)
    before = snapshot(db_url, log_dir)

    declined = runner.invoke(
        app, ["privacy", "erase", "--portal", "m1", "--email", X_EMAIL], input="n\n", env=env
    )
    consent = runner.invoke(
        app, ["privacy", "consent", "--portal", "m1", "--client", "user:88", "--granted"], env=env
    )
    trail = runner.invoke(app, ["privacy", "audit", "--portal", "m1"], env=env)
    no_choice = runner.invoke(app, ["privacy", "consent", "--portal", "m1", "--client", "user:88"], env=env)
    nobody = runner.invoke(app, ["privacy", "export", "--portal", "m1"], env=env)

    assert declined.exit_code == 1
    assert "Found / Найдено: dialogues / диалогов: 4" in declined.output
    assert "Cancelled / Отменено" in declined.output
    assert consent.exit_code == 0 and "user:88: granted / дано" in consent.output
    assert trail.exit_code == 0
    [line] = trail.output.splitlines()
    assert line.split()[3:6] == ["consent", "cli", "user:88"] and line.endswith('{"granted": true}')
    assert no_choice.exit_code == 2 and "--granted" in no_choice.output
    assert nobody.exit_code == 2 and "укажите человека" in nobody.output
    after = snapshot(db_url, log_dir)
    assert {t: r for t, r in after.items() if t not in ("audit_log", "client_consents")} == {
        t: r for t, r in before.items() if t not in ("audit_log", "client_consents")
    }
    assert [(r["client_key"], r["granted"]) for r in after["client_consents"] if r["member_id"] == "m1"] == [
        ("user:77", True),
        ("user:88", True),
    ]


def test_cli_shows_and_replaces_the_policy_with_an_audit_record(db_url: str, log_dir: Path) -> None:
    seed(db_url, log_dir)
    runner = CliRunner()
    env = cli_env(db_url, log_dir)

    shown = runner.invoke(app, ["privacy", "policy", "--portal", "m1"], env=env)
    changed = runner.invoke(
        app,
        ["privacy", "policy", "--portal", "m1", "--set", '{"masked_types": ["card", "passport"]}'],
        env=env,
    )
    bad = runner.invoke(
        app, ["privacy", "policy", "--portal", "m1", "--set", '{"masked_types": ["pin"]}'], env=env
    )
    not_json = runner.invoke(app, ["privacy", "policy", "--portal", "m1", "--set", "{"], env=env)

    assert shown.exit_code == 0 and len(json.loads(shown.output)["masked_types"]) == 10
    assert changed.exit_code == 0 and json.loads(changed.output)["masked_types"] == ["card", "passport"]
    assert bad.exit_code == 2 and "unknown PII types pin" in bad.output
    assert not_json.exit_code == 2
    after = snapshot(db_url, log_dir)
    [record] = [r for r in after["audit_log"] if r["action"] == "settings"]
    assert record["actor"] == "cli" and record["member_id"] == "m1"
    [portal] = [p for p in after["portals"] if p["member_id"] == "m1"]
    assert portal["settings"]["privacy"]["masked_types"] == ["card", "passport"]
