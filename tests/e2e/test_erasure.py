"""Erasure through the whole loop: customers write their phone and e-mail into Open Lines, the app answers,
then ``erase`` by phone leaves nothing of that customer in any table or log file — another customer's
data stays."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from b24claude.adapters.sql.tables import metadata
from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import settled

ANNA_PHONE, ANNA_DIGITS = "+7 (925) 111-22-33", "9251112233"
ANNA_EMAIL = "anna.new@example.com"
OLGA_PHONE, OLGA_DIGITS = "8 903 444-55-66", "9034445566"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v2", settings_overrides={"log_dir": str(tmp_path / "logs")})
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def everything(stack: SandboxStack, log_dir: Path) -> list[str]:
    """Every cell of every table (vault values decrypted) and every log line, as text."""
    assert stack.container is not None
    store = stack.container.store
    cells: list[str] = []
    async with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                for name, value in row._mapping.items():
                    if table.name == "pii_vault" and name == "value":
                        value = store.secrets_codec.decode(value)
                    cells.append(json.dumps(value, ensure_ascii=False, default=str))
    cells += log_lines(log_dir)
    return cells


def log_lines(log_dir: Path) -> list[str]:
    return [
        line for path in sorted(log_dir.rglob("*.jsonl")) for line in path.read_text("utf-8").splitlines()
    ]


def holds(cells: list[str], text_: str) -> bool:
    return any(text_ in cell for cell in cells)


def holds_phone(cells: list[str], digits: str) -> bool:
    return any(digits in re.sub(r"\D", "", cell) for cell in cells)


async def test_erase_by_phone_after_real_dialogues(stack: SandboxStack, tmp_path: Path) -> None:
    await stack.ask(
        f"Здравствуйте! Мой новый номер {ANNA_PHONE}, почта {ANNA_EMAIL}. Доставка платная?", "anna"
    )
    await stack.ask("А в субботу привезёте?", "anna")
    await stack.ask(f"Добрый день, перезвоните мне на {OLGA_PHONE}, пожалуйста", "olga")
    await settled(stack)
    assert stack.container is not None
    log_dir = tmp_path / "logs"
    before = await everything(stack, log_dir)
    assert holds_phone(before, ANNA_DIGITS) and holds(before, ANNA_EMAIL)  # the test can fail

    report = await stack.container.rights.erase(stack.member_id, phone="8-925-111-22-33", actor="cli")

    after = await everything(stack, log_dir)
    assert (
        report.dialogues == 1 and report.counts["turns"] == 4 and report.counts["inbox"] >= 2
    )  # its messages (and the bot joining its chat)
    assert not holds_phone(after, ANNA_DIGITS)
    assert not holds(after, ANNA_EMAIL)
    assert holds_phone(after, OLGA_DIGITS)  # the other customer's message is still there
    [record] = [r for r in await stack.container.store.audit.list(stack.member_id) if r.action == "erase"]
    assert ANNA_DIGITS not in re.sub(r"\D", "", record.subject)
    # the service goes on answering
    reply = await stack.ask("Сколько стоит доставка?", "anna")
    assert reply
