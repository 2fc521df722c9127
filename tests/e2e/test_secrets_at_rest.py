"""Secrets at rest through the real install: the tokens the portal issued never lie on disk in clear."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from b24claude.cli.stack import SandboxStack


async def test_installed_portal_tokens_are_encrypted_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a key file would land if the stack wrote one
    stack = SandboxStack(bot_api="v1")
    await stack.start()
    try:
        assert stack.container is not None
        reply = await stack.ask("Здравствуйте! Сколько стоит доставка по Москве?", "anna")
        assert reply
        auth = await stack.container.store.portals.load_auth(stack.member_id)
        portal = await stack.container.store.portals.get(stack.member_id)
        assert portal is not None
        secrets = [auth.access_token, auth.refresh_token, portal.application_token]
        assert all(len(s) >= 16 for s in secrets)  # the emulator's real tokens, decrypted
        db_path = Path(stack.settings.database_url.split("///", 1)[1])
        # Everything SQLite wrote (the WAL holds the recent pages).
        disk = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
        for secret in secrets:
            assert secret.encode() not in disk
        assert b"fernet:" in disk
        assert stack.container.keyring.key_count == 1
    finally:
        await stack.stop()
    assert os.listdir(tmp_path) == []  # no key file, no database in the working directory
