"""The application-token cache of the portal service cannot be grown by forged member_ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from b24claude.adapters.sql import SqlStore
from b24claude.errors import Unauthorized
from b24claude.kit.clock import SystemClock
from b24claude.portals import service as portals
from b24claude.portals.install import InstallPolicy
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import Portal


async def test_unknown_member_ids_stop_being_cached_when_the_cache_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portals, "MAX_CACHED_PORTALS", 3)
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        auth = PortalAuth(member_id="real", client_endpoint="https://a.bitrix24.ru/rest/")
        await store.portals.upsert(Portal("real", "a.bitrix24.ru", auth, application_token="t" * 32))
        service = portals.PortalService(
            portals=store.portals,
            chat=cast(Any, None),
            clock=SystemClock(),
            bot_api="v2",
            bot_code="b",
            bot_name="B",
            handler_url="",
            verifier=cast(Any, None),  # never reached: no install in this test
            install_policy=InstallPolicy(client_id="local.x", oauth_url="https://oauth.bitrix.info"),
        )
        for i in range(50):
            with pytest.raises(Unauthorized):
                await service.verify_application_token(f"forged{i}", "x")
        await service.verify_application_token("real", "t" * 32)  # a known portal is still served
        cache = cast(dict[str, Any], service._tokens)
        assert len(cache) <= 4 and "real" in cache
    finally:
        await store.close()
