"""Shared fixtures of the contract tests."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from b24claude.errors import PortalNotInstalled
from b24claude.ports.bitrix import PortalAuth


class MemoryTokenStore:
    """In-memory ``TokenStore``: portals by member_id; ``saves`` records every rotated pair."""

    def __init__(self, *portals: PortalAuth) -> None:
        self._auth: dict[str, PortalAuth] = {p.member_id: p for p in portals}
        self.saves: list[tuple[str, str, str, float]] = []
        self._lock = asyncio.Lock()

    def put(self, auth: PortalAuth) -> None:
        self._auth[auth.member_id] = auth

    def get(self, member_id: str) -> PortalAuth:
        return self._auth[member_id]

    async def load_auth(self, member_id: str) -> PortalAuth:
        try:
            return self._auth[member_id]
        except KeyError:
            raise PortalNotInstalled(member_id) from None

    async def save_tokens(
        self, member_id: str, *, access_token: str, refresh_token: str, expires_at: float
    ) -> None:
        async with self._lock:
            current = await self.load_auth(member_id)
            self._auth[member_id] = replace(
                current, access_token=access_token, refresh_token=refresh_token, expires_at=expires_at
            )
            self.saves.append((member_id, access_token, refresh_token, expires_at))


@pytest.fixture
def token_store() -> MemoryTokenStore:
    return MemoryTokenStore()
