"""OAuth token refresh, single-flight per portal (reference/bitrix24.md §1.3).

Every refresh returns a *new* refresh token and the old one may die at once, so two concurrent
refreshes with the same refresh token race and one of them loses the portal. Callers therefore
queue on a per-portal lock and, once inside, check whether the stored access token still is the
one that failed: if another caller (or another process) already refreshed, they just use its pair.
The rotated pair is persisted before anybody uses it.

The OAuth server is configuration, never input: every refresh goes to ``B24C_B24_OAUTH_URL``, with
the client secret in the POST body. A ``server_endpoint`` stored from an install or named by an
event is never called (a forged install once made the service send its secret there).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import httpx

from b24claude.errors import Bitrix24AuthError, Bitrix24TransientError
from b24claude.kit.clock import Clock
from b24claude.kit.urls import oauth_origin
from b24claude.ports.bitrix import PortalAuth, TokenGrant, TokenStore

from .errors import map_oauth_error

log = logging.getLogger("b24claude.bitrix24")


class TokenRefresher:
    def __init__(
        self,
        token_store: TokenStore,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        client_id: str,
        client_secret: str,
        oauth_url: str,
        headers: dict[str, str],
    ) -> None:
        """``oauth_url``: the configured OAuth server — the only address the client secret is ever
        sent to, whatever a stored or incoming ``server_endpoint`` says."""
        self._store = token_store
        self._http = http
        self._clock = clock
        self._client_id = client_id
        self._client_secret = client_secret
        self.oauth_url = oauth_origin(oauth_url)
        self._headers = headers
        self._locks: dict[str, asyncio.Lock] = {}
        self.refreshes = 0

    async def refresh(self, member_id: str, failed_access_token: str) -> PortalAuth:
        """Fresh credentials for ``member_id`` after ``failed_access_token`` was refused (or expired)."""
        lock = self._locks.setdefault(member_id, asyncio.Lock())
        async with lock:
            current = await self._store.load_auth(member_id)
            if current.access_token and current.access_token != failed_access_token:
                if current.expires_at <= 0 or current.expires_at > self._clock.now():
                    log.debug("bitrix24.refresh.shared", extra={"member_id": member_id})
                    return current
            return await self._refresh_locked(current)

    async def _refresh_locked(self, current: PortalAuth) -> PortalAuth:
        member_id = current.member_id
        if not current.refresh_token:
            raise Bitrix24AuthError("no refresh token stored: the app must be reinstalled", code="auth_error")
        grant = await self.grant(current.refresh_token, member_id=member_id)
        # Persist before use: if saving fails we must not spend the new pair (the old one is dead).
        await self._store.save_tokens(
            member_id,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
        )
        log.info("bitrix24.refresh.done", extra={"member_id": member_id, "expires_at": int(grant.expires_at)})
        # client_endpoint stays what the store says: TokenStore.save_tokens persists only the pair.
        return replace(
            current,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
        )

    async def grant(self, refresh_token: str, *, member_id: str) -> TokenGrant:
        """Exchange ``refresh_token`` at the configured OAuth server (not persisted here).

        The client secret travels in the POST body, never in the query string, so that no proxy,
        access log or exception message ever holds it in a URL (the docs show GET with a query; the
        server takes the same fields form-encoded).
        """
        url = self.oauth_url + "/oauth/token/"
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
        }
        self.refreshes += 1
        log.info("bitrix24.refresh.start", extra={"member_id": member_id})
        try:
            response = await self._http.post(url, data=form, headers=self._headers)
        except httpx.HTTPError as exc:
            log.warning(
                "bitrix24.refresh.network_error", extra={"member_id": member_id, "error": type(exc).__name__}
            )
            # ``from None``: a chained httpx error may carry the request.
            raise Bitrix24TransientError(f"oauth: {type(exc).__name__}") from None
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            error = map_oauth_error(response.status_code, body)
            log.warning(
                "bitrix24.refresh.failed",
                extra={"member_id": member_id, "status": response.status_code, "code": error.code},
            )
            raise error
        return TokenGrant(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or refresh_token),
            expires_at=_expires_at(body, self._clock.now()),
            member_id=str(body.get("member_id") or ""),
            client_endpoint=str(body.get("client_endpoint") or ""),
            server_endpoint=str(body.get("server_endpoint") or ""),
            user_id=_int(body.get("user_id")),
        )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _expires_at(body: dict[str, Any], now: float) -> float:
    try:
        return float(body["expires"])
    except (KeyError, TypeError, ValueError):
        pass
    try:
        return now + float(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        return now + 3600.0


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
