"""Secrets at rest: the keyring, the Fernet codec in the store, rotation, the key file, ``enc:`` settings.

The database is read raw (sqlite3) to check what actually lies on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from b24claude.adapters.crypto import Keyring, key_id, new_key
from b24claude.adapters.sql import SqlStore
from b24claude.adapters.sql.rekey import rekey_secrets
from b24claude.bootstrap import build_keyring, open_store, resolve_secret
from b24claude.cli.main import app
from b24claude.errors import ConfigurationError
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.privacy import VaultEntry
from b24claude.ports.store import Portal
from b24claude.settings import Settings

ACCESS, REFRESH, APP_TOKEN = "access-7f3a9c", "refresh-51be02", "apptoken-c0ffee"
PHONE = "+7 916 123-45-67"
EMAIL = "anna.petrova@example.ru"


def settings(tmp_path: Path, keys: str = "", **changes: object) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        secret_keys=keys,
        secret_key_file=str(tmp_path / "keys" / "b24claude.key"),
        **changes,
    )


def a_portal(member: str = "m1") -> Portal:
    return Portal(
        member_id=member,
        domain=f"{member}.bitrix24.ru",
        auth=PortalAuth(
            member_id=member,
            client_endpoint=f"https://{member}.bitrix24.ru/rest/",
            access_token=ACCESS,
            refresh_token=REFRESH,
            expires_at=1000.0,
        ),
        application_token=APP_TOKEN,
    )


VAULT = [
    VaultEntry("[ТЕЛЕФОН_1]", "phone", PHONE, "79161234567"),
    VaultEntry("[EMAIL_1]", "email", EMAIL, EMAIL),
]


async def fill(store: SqlStore, member: str = "m1") -> None:
    await store.portals.upsert(a_portal(member))
    await store.vault.add(member, f"{member}:dlg:1", VAULT)


def raw_rows(tmp_path: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    with contextlib.closing(sqlite3.connect(tmp_path / "store.db")) as conn:
        portals = conn.execute(
            "SELECT access_token, refresh_token, application_token FROM portals"
        ).fetchall()
        values = [r[0] for r in conn.execute("SELECT value FROM pii_vault ORDER BY seq")]
    return portals, values


async def read_back(store: SqlStore, member: str = "m1") -> tuple[Portal | None, list[VaultEntry]]:
    return await store.portals.get(member), await store.vault.entries(member, f"{member}:dlg:1")


def assert_intact(portal: Portal | None, entries: list[VaultEntry]) -> None:
    assert portal is not None
    assert (portal.auth.access_token, portal.auth.refresh_token, portal.application_token) == (
        ACCESS,
        REFRESH,
        APP_TOKEN,
    )
    assert [e.value for e in entries] == [PHONE, EMAIL]


# --- the codec in the store ---------------------------------------------------------------------------


async def test_tokens_and_vault_values_are_not_plain_text_on_disk(tmp_path: Path) -> None:
    s = settings(tmp_path, new_key())
    store = await open_store(s, build_keyring(s))
    try:
        await fill(store)
        assert_intact(*await read_back(store))
        await store.portals.save_tokens(
            "m1", access_token=ACCESS + "2", refresh_token=REFRESH, expires_at=2.0
        )
    finally:
        await store.close()
    portals, values = raw_rows(tmp_path)
    disk = repr((portals, values))
    for plain in (ACCESS, REFRESH, APP_TOKEN, PHONE, EMAIL, "7916", "anna"):
        assert plain not in disk
    assert all(v.startswith("fernet:") for row in portals for v in row)
    assert all(v.startswith("fernet:") for v in values)


async def test_the_same_secret_is_stored_differently_each_time(tmp_path: Path) -> None:
    codec = Keyring.parse([new_key()], "test").codec
    first, second = codec.encode("secret"), codec.encode("secret")
    assert first != second
    assert codec.decode(first) == codec.decode(second) == "secret"
    assert codec.encode("") == "" and codec.decode("") == ""


async def test_a_legacy_plain_text_database_keeps_working_and_rotation_encrypts_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    legacy = await SqlStore.open(url)  # no keyring: what a database written before encryption holds
    await fill(legacy)
    await legacy.close()
    assert raw_rows(tmp_path)[0] == [(ACCESS, REFRESH, APP_TOKEN)]

    s = settings(tmp_path, new_key())
    keyring = build_keyring(s)
    store = await open_store(s, keyring)
    try:
        assert_intact(*await read_back(store))
        counts = await rekey_secrets(store.db, keyring.codec.rekey)
        assert (counts.portal_secrets_rewritten, counts.vault_values_rewritten) == (3, 2)
        assert_intact(*await read_back(store))
    finally:
        await store.close()
    portals, values = raw_rows(tmp_path)
    assert all(v.startswith("fernet:") for v in (*portals[0], *values))


async def test_rotation_add_a_key_rotate_drop_the_old_one(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    s_old = settings(tmp_path, old)
    store = await open_store(s_old, build_keyring(s_old))
    await fill(store)
    await fill(store, "m2")
    await store.close()
    before = raw_rows(tmp_path)

    s_both = settings(tmp_path, f"{new},{old}")
    keyring = build_keyring(s_both)
    # The digest key is derived from the oldest key: pin it before that key goes.
    pinned = keyring.digest_key_entry()
    store = await open_store(s_both, keyring)
    try:
        counts = await rekey_secrets(store.db, keyring.codec.rekey, batch=1)  # batches of one: paging
        assert counts.as_dict() == {
            "portals_seen": 2,
            "portal_secrets_rewritten": 6,
            "vault_seen": 4,
            "vault_values_rewritten": 4,
            "changed_meanwhile": 0,
        }
        again = await rekey_secrets(store.db, keyring.codec.rekey)
        assert (again.portal_secrets_rewritten, again.vault_values_rewritten) == (0, 0)  # idempotent
    finally:
        await store.close()
    after = raw_rows(tmp_path)
    assert set(after[1]).isdisjoint(before[1])

    s_new = settings(tmp_path, f"{new},{pinned}")
    store = await open_store(s_new, build_keyring(s_new))
    try:
        assert_intact(*await read_back(store))
        assert_intact(*await read_back(store, "m2"))
        # Lookups by digest still find the dialogue under the pinned digest key.
        assert await store.vault.dialogues_with("m1", "phone", "79161234567") == ["m1:dlg:1"]
    finally:
        await store.close()


async def test_rotation_never_overwrites_a_token_refreshed_meanwhile(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    s_old = settings(tmp_path, old)
    store = await open_store(s_old, build_keyring(s_old))
    await fill(store)
    await store.close()

    s_both = settings(tmp_path, f"{new},{old}")
    keyring = build_keyring(s_both)
    refreshed = keyring.codec.encode("access-refreshed")
    store = await open_store(s_both, keyring)

    def rekey_while_the_service_refreshes(stored: str) -> str | None:
        if keyring.codec.decode(stored) == ACCESS:
            # Another process saves a fresh token pair between rotation's read and its write.
            with contextlib.closing(sqlite3.connect(tmp_path / "store.db")) as conn, conn:
                conn.execute("UPDATE portals SET access_token = ?", (refreshed,))
        return keyring.codec.rekey(stored)

    try:
        counts = await rekey_secrets(store.db, rekey_while_the_service_refreshes)
        assert counts.changed_meanwhile == 1 and counts.portal_secrets_rewritten == 0
        portal = await store.portals.get("m1")
        assert portal is not None and portal.auth.access_token == "access-refreshed"
        assert portal.auth.refresh_token == REFRESH  # the next run rotates what is left
        again = await rekey_secrets(store.db, keyring.codec.rekey)
        assert again.portal_secrets_rewritten == 2  # refresh and application tokens; access is current
    finally:
        await store.close()


async def test_a_wrong_key_is_refused_at_start_up_with_a_clear_error(tmp_path: Path) -> None:
    s = settings(tmp_path, new_key())
    store = await open_store(s, build_keyring(s))
    await fill(store)
    await store.close()

    wrong = settings(tmp_path, new_key())
    with pytest.raises(ConfigurationError) as err:
        await open_store(wrong, build_keyring(wrong))
    assert err.value.code == "secret_key_mismatch"
    assert "B24C_SECRET_KEYS" in err.value.message and "cannot be decrypted" in err.value.message


async def test_a_wrong_key_never_yields_garbage(tmp_path: Path) -> None:
    stored = Keyring.parse([new_key()], "test").codec.encode(ACCESS)
    other = Keyring.parse([new_key()], "test")
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        other.codec.decode(stored)
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        other.codec.rekey(stored)
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        other.codec.decode("fernet:not-a-token")


async def test_rotation_stops_on_a_value_no_key_opens(tmp_path: Path) -> None:
    first = settings(tmp_path, new_key())
    store = await open_store(first, build_keyring(first))
    await fill(store)
    await store.close()
    stranger = Keyring.parse([new_key()], "test")
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        with pytest.raises(ConfigurationError, match="cannot be decrypted"):
            await rekey_secrets(store.db, stranger.codec.rekey)
    finally:
        await store.close()


def test_keys_that_are_not_fernet_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="key 2: not a Fernet key"):
        Keyring.parse([new_key(), "hunter2"], "B24C_SECRET_KEYS")
    with pytest.raises(ConfigurationError, match="no Fernet key"):
        Keyring.parse(["digest:" + "A" * 44], "B24C_SECRET_KEYS")


def test_the_digest_is_keyed_and_survives_rotation() -> None:
    old, new = new_key(), new_key()
    one, both = Keyring.parse([old], "t"), Keyring.parse([new, old], "t")
    assert one.digest("phone:79161234567") == both.digest("phone:79161234567")
    assert one.digest("phone:79161234567") != Keyring.parse([new], "t").digest("phone:79161234567")
    assert len(one.digest("x")) == 64 and int(one.digest("x"), 16) >= 0
    pinned = Keyring.parse([new, one.digest_key_entry()], "t")
    assert pinned.digest("x") == one.digest("x")


# --- the key file --------------------------------------------------------------------------------------


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    s = settings(tmp_path)
    path = Path(s.secret_key_file)
    first = build_keyring(s)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len([line for line in text.splitlines() if line.startswith("digest:")]) == 1
    again = build_keyring(s)
    assert again.primary_id == first.primary_id
    assert again.digest("x") == first.digest("x")
    assert again.codec.decode(first.codec.encode("secret")) == "secret"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    s = settings(tmp_path)
    build_keyring(s)
    os.chmod(s.secret_key_file, 0o644)
    with pytest.raises(ConfigurationError, match="permissions 0644") as err:
        build_keyring(s)
    assert f"chmod 600 {s.secret_key_file}" in err.value.message


def test_a_malformed_key_file_is_refused(tmp_path: Path) -> None:
    s = settings(tmp_path)
    path = Path(s.secret_key_file)
    path.parent.mkdir()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"this is not a key\n")
    os.close(fd)
    with pytest.raises(ConfigurationError, match="not a Fernet key"):
        build_keyring(s)
    path.write_text("# only a comment\n")
    with pytest.raises(ConfigurationError, match="no Fernet key"):
        build_keyring(s)


def test_keys_in_settings_win_over_the_key_file(tmp_path: Path) -> None:
    key = new_key()
    keyring = build_keyring(settings(tmp_path, f" {key} , "))
    assert keyring.primary_id == key_id(key)
    assert not (tmp_path / "keys").exists()  # no key file written


# --- enc: settings -----------------------------------------------------------------------------------


def test_enc_secrets_in_settings_are_resolved(tmp_path: Path) -> None:
    keyring = build_keyring(settings(tmp_path, new_key()))
    sealed = keyring.encrypt_setting("sk-ant-real-key")
    assert sealed.startswith("enc:") and "sk-ant" not in sealed
    assert resolve_secret(keyring, SecretStr(sealed)) == "sk-ant-real-key"
    assert resolve_secret(keyring, SecretStr("plain-value")) == "plain-value"
    other = build_keyring(settings(tmp_path, new_key()))
    with pytest.raises(ConfigurationError, match="B24C_ANTHROPIC_API_KEY cannot be decrypted"):
        resolve_secret(other, SecretStr(sealed), name="B24C_ANTHROPIC_API_KEY")


# --- the CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's, no key file in the repository
    yield {
        "B24C_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        "B24C_SECRET_KEY_FILE": str(tmp_path / "b24claude.key"),
        "B24C_SECRET_KEYS": "",
    }


def test_cli_new_key_and_encrypt_secret(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["privacy", "new-key"], env=cli_env)
    assert made.exit_code == 0
    key = made.output.strip()
    Keyring.parse([key], "test")  # a valid Fernet key
    env = {**cli_env, "B24C_SECRET_KEYS": key}
    sealed = runner.invoke(app, ["privacy", "encrypt-secret"], input="sk-ant-real-key\n", env=env)
    assert sealed.exit_code == 0, sealed.output
    assert sealed.output.startswith("enc:") and "sk-ant" not in sealed.output
    assert Keyring.parse([key], "test").resolve(sealed.output.strip()) == "sk-ant-real-key"
    empty = runner.invoke(app, ["privacy", "encrypt-secret"], input="", env=env)
    assert empty.exit_code == 2


def test_cli_help_is_bilingual() -> None:
    result = CliRunner().invoke(app, ["privacy", "--help"])
    assert result.exit_code == 0
    for command in ("new-key", "encrypt-secret", "digest-key", "rotate-keys"):
        assert command in result.output
    rotate = CliRunner().invoke(app, ["privacy", "rotate-keys", "--help"])
    assert "newest key" in rotate.output and "новейшим ключом" in rotate.output


def test_cli_rotate_keys_reencrypts_and_audits(cli_env: dict[str, str], tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    asyncio.run(prepare(settings(tmp_path, old)))
    before = raw_rows(tmp_path)

    env = {**cli_env, "B24C_SECRET_KEYS": f"{new},{old}"}
    result = CliRunner().invoke(app, ["privacy", "rotate-keys"], env=env)
    assert result.exit_code == 0, result.output
    assert "secrets re-encrypted / секретов перешифровано: 3" in result.output
    assert "re-encrypted / перешифровано: 2" in result.output
    after = raw_rows(tmp_path)
    assert set(after[0][0]).isdisjoint(before[0][0]) and set(after[1]).isdisjoint(before[1])

    async def check() -> None:
        only_new = settings(tmp_path, new)
        store = await open_store(only_new, build_keyring(only_new))
        try:
            assert_intact(*await read_back(store))
            [record] = await store.audit.list("*")
            assert (record.action, record.actor) == ("rotate-keys", "cli")
            assert record.details["portal_secrets_rewritten"] == 3
            assert record.details["key_id"] == key_id(new)
            assert new not in repr(record.details) and old not in repr(record.details)
        finally:
            await store.close()

    asyncio.run(check())


def test_cli_rotate_keys_with_a_missing_key_fails_clearly(cli_env: dict[str, str], tmp_path: Path) -> None:
    asyncio.run(prepare(settings(tmp_path, new_key())))
    env = {**cli_env, "B24C_SECRET_KEYS": new_key()}
    result = CliRunner().invoke(app, ["privacy", "rotate-keys"], env=env)
    assert result.exit_code == 1
    assert "cannot be decrypted" in result.output


async def prepare(s: Settings) -> None:
    store = await open_store(s, build_keyring(s))
    try:
        await fill(store)
    finally:
        await store.close()
