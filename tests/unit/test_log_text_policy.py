"""A portal's admin decides whether its log records carry (masked) message text; others' never do."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from b24claude.adapters.logs import configure_logging, reset_logging
from b24claude.adapters.sql import SqlStore
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import Portal
from b24claude.privacy.detect import PiiDetector
from b24claude.privacy.logtext import LogTextPolicy
from b24claude.privacy.policy import PrivacyPolicy
from b24claude.settings import Settings

TEXT = "Иван Петров, +7 916 123-45-67, паспорт 4510 123456: где заказ?"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/l.db")
    yield s
    await s.close()


async def portal(store: SqlStore, member_id: str, *, text_logs: bool) -> None:
    policy = PrivacyPolicy(log_message_text=text_logs)
    await store.portals.upsert(
        Portal(
            member_id=member_id,
            domain=f"{member_id}.bitrix24.ru",
            auth=PortalAuth(member_id=member_id, client_endpoint=f"https://{member_id}.bitrix24.ru/rest/"),
            settings=policy.merged_into({}),
        )
    )


async def test_text_is_logged_masked_for_the_portal_that_allows_it_only(store: SqlStore) -> None:
    await portal(store, "open", text_logs=True)
    await portal(store, "closed", text_logs=False)
    policy = LogTextPolicy(portals=store.portals, detector=PiiDetector())
    await policy.refresh()
    assert policy.allows("open") and not policy.allows("closed") and not policy.allows("unknown")

    stream = io.StringIO()
    root_level = logging.getLogger().level
    try:
        configure_logging(
            Settings(_env_file=None, log_format="json", log_level="INFO"),
            text_allowed=policy.allows,
            mask=policy.mask,
            stream=stream,
        )
        log = logging.getLogger("b24claude.test")
        for member_id in ("open", "closed"):
            log.info("answered", extra={"member_id": member_id, "text": TEXT})
    finally:
        reset_logging()
        logging.getLogger().setLevel(root_level)
    records = {r["member_id"]: r for r in map(json.loads, stream.getvalue().splitlines())}
    assert "text" not in records["closed"]
    logged = records["open"]["text"]
    assert "где заказ?" in logged
    assert "[ТЕЛЕФОН_1]" in logged and "[ПАСПОРТ_1]" in logged and "[ИМЯ_1]" in logged
    for secret in ("Петров", "916", "4510"):
        assert secret not in stream.getvalue()
