"""The install flow (ONAPPINSTALL) and the portal's bot."""

from __future__ import annotations

import hmac
import logging

from b24claude.errors import BadRequest, Unauthorized
from b24claude.events.models import AppInstalled, AppUninstalled, BotDeleted
from b24claude.events.parse import ClassicEnvelope
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotApi, ChatGateway, PortalAuth
from b24claude.ports.store import Portal, PortalRepository

log = logging.getLogger("b24claude.portals")

MAX_CACHED_PORTALS = 10_000


class PortalService:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        chat: ChatGateway,
        clock: Clock,
        bot_api: BotApi,
        bot_code: str,
        bot_name: str,
        handler_url: str,
    ) -> None:
        self._portals = portals
        self._chat = chat
        self._clock = clock
        self._bot_api = bot_api
        self._bot_code = bot_code
        self._bot_name = bot_name
        self._handler_url = handler_url
        # member_id -> (application_token or "" when not installed, cached until); the token is checked
        # on every inbound event, so it must not cost a database read each time.
        self._tokens: dict[str, tuple[str, float]] = {}
        self.token_cache_ttl_s = 30.0

    async def verify_application_token(self, member_id: str, token: str) -> None:
        """``auth[application_token]`` must equal the one saved at install (reference §2.2)."""
        if not token:
            raise Unauthorized("application_token is missing")
        cached = self._tokens.get(member_id)
        if cached is None or cached[1] < self._clock.monotonic():
            portal = await self._portals.get(member_id)
            known = portal.application_token if portal is not None and portal.installed else ""
            cached = (known, self._clock.monotonic() + self.token_cache_ttl_s)
            # Anyone can name a new member_id per request: unknown ones stop being cached when full.
            if known or len(self._tokens) < MAX_CACHED_PORTALS:
                self._tokens[member_id] = cached
        if not cached[0]:
            raise Unauthorized("unknown portal")
        if not hmac.compare_digest(cached[0], token):
            raise Unauthorized("application_token does not match")

    async def install(self, env: ClassicEnvelope) -> Portal:
        """Save the tokens of an ONAPPINSTALL; called on the acknowledgement path, so no REST calls.

        An install for a portal that is installed with a different application token is refused:
        the token is the only secret Bitrix24 sends with every event, and it must not be replaced by
        whoever posts an install first.
        """
        auth = env.auth
        if not (auth.access_token and auth.refresh_token and auth.client_endpoint and auth.application_token):
            raise BadRequest("install event lacks tokens, client_endpoint or application_token")
        existing = await self._portals.get(auth.member_id)
        if (
            existing is not None
            and existing.installed
            and existing.application_token
            and not hmac.compare_digest(existing.application_token, auth.application_token)
        ):
            raise Unauthorized("portal already installed with another application_token")
        try:
            expires_in = float(auth.expires_in or 3600)
        except ValueError as exc:
            raise BadRequest("auth.expires_in is not a number") from exc
        portal = Portal(
            member_id=auth.member_id,
            domain=auth.domain,
            auth=PortalAuth(
                member_id=auth.member_id,
                client_endpoint=auth.client_endpoint,
                access_token=auth.access_token,
                refresh_token=auth.refresh_token,
                expires_at=self._clock.now() + expires_in,
                server_endpoint=auth.server_endpoint,
            ),
            application_token=auth.application_token,
            language=str(env.data.get("LANGUAGE_ID") or "ru"),
            bot_api=self._bot_api,
            installed=True,
        )
        await self._portals.upsert(portal)
        self._tokens.pop(auth.member_id, None)
        log.info("portal.installed", extra={"member_id": auth.member_id})
        return portal

    async def ensure_bot(self, update: AppInstalled) -> None:
        """Register our bot in the portal (worker side of ONAPPINSTALL); idempotent."""
        portal = await self._portals.get(update.member_id)
        if portal is None or not portal.installed:
            return
        if portal.bot_id and portal.bot_api == self._bot_api:
            return
        bot = await self._chat.register_bot(
            update.member_id,
            api=self._bot_api,
            code=self._bot_code,
            name=self._bot_name,
            handler_url=self._handler_url if self._bot_api == "v1" else None,
        )
        await self._portals.set_bot(update.member_id, bot_id=bot.bot_id, bot_code=bot.code, bot_api=bot.api)
        log.info(
            "portal.bot.registered", extra={"member_id": update.member_id, "bot_id": bot.bot_id, "api": bot.api}
        )

    async def uninstall(self, update: AppUninstalled) -> None:
        await self._portals.mark_uninstalled(update.member_id)
        self._tokens.pop(update.member_id, None)
        log.info("portal.uninstalled", extra={"member_id": update.member_id, "clean": update.clean})

    async def bot_deleted(self, update: BotDeleted) -> None:
        portal = await self._portals.get(update.member_id)
        if portal is not None and portal.bot_id == update.bot_id:
            await self._portals.set_bot(update.member_id, bot_id=0, bot_code="", bot_api=portal.bot_api)
