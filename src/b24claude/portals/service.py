"""The install flow (ONAPPINSTALL, confirmed with Bitrix24 before anything is stored) and the portal's bot."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence

from b24claude.errors import TooManyRequests, Unauthorized
from b24claude.events.models import AppInstalled, AppUninstalled, BotDeleted
from b24claude.events.parse import ClassicEnvelope
from b24claude.kit.clock import Clock
from b24claude.kit.ratelimit import KeyedTokenBucket
from b24claude.portals.install import InstallPolicy, check_claim, confirm_install
from b24claude.ports.bitrix import BotApi, BotCommand, BotIdentity, ChatGateway, InstallVerifier, PortalAuth
from b24claude.ports.store import BotCommandRepository, Portal, PortalRepository

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
        verifier: InstallVerifier,
        install_policy: InstallPolicy,
        on_reinstalled: Callable[[str], None] = lambda member_id: None,
        commands: Sequence[BotCommand] = (),
        registered: BotCommandRepository | None = None,
    ) -> None:
        """``on_reinstalled(member_id)``: drop whatever caches hold the portal's old credentials;
        ``commands``: the bot's commands, registered with it (each domain names its own, bootstrap
        collects them)."""
        self._commands = tuple(commands)
        self._registered = registered
        self._verifier = verifier
        self._install_policy = install_policy
        self._on_reinstalled = on_reinstalled
        self._install_limiter = KeyedTokenBucket(
            rate_per_s=install_policy.rate_per_s, burst=install_policy.burst, monotonic=clock.monotonic
        )
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
        """Confirm an ONAPPINSTALL with Bitrix24 itself, then save the portal (see :mod:`.install`).

        Nothing is stored, and no address the event names is called, until the configured OAuth
        server has vouched for the install's refresh token (our client_id, the same member_id, the
        same portal endpoint) and the portal at that endpoint has named our application. A reinstall
        of a known portal proves itself the same way before its tokens replace the stored ones.
        """
        claim = check_claim(env, self._install_policy)
        self._take_install_slot()
        proof = await confirm_install(claim, self._verifier, self._install_policy)
        existing = await self._portals.get(claim.member_id)
        portal = Portal(
            member_id=claim.member_id,
            domain=claim.domain,
            auth=PortalAuth(
                member_id=claim.member_id,
                client_endpoint=proof.client_endpoint,
                access_token=proof.access_token,
                refresh_token=proof.refresh_token,
                expires_at=proof.expires_at,
                server_endpoint=self._install_policy.oauth_origin + "/rest/",
            ),
            application_token=claim.application_token,
            language=str(env.data.get("LANGUAGE_ID") or "ru"),
            bot_api=self._bot_api,
            installed=True,
        )
        await self._portals.upsert(portal)
        settings = dict(existing.settings) if existing is not None else {}
        if proof.user_id > 0 and not settings.get("alerts"):
            # Who hears when Claude is down: the admin who installed, until an admin changes it.
            await self._portals.update_settings(
                claim.member_id, {**settings, "alerts": {"user_ids": [proof.user_id]}}
            )
        self._tokens.pop(claim.member_id, None)
        self._on_reinstalled(claim.member_id)
        log.info(
            "portal.installed",
            extra={"member_id": claim.member_id, "reinstall": existing is not None},
        )
        return portal

    def _take_install_slot(self) -> None:
        wait = self._install_limiter.take("install")
        if wait > 0:
            raise TooManyRequests("too many installs to confirm at once", retry_after=wait)

    async def ensure_bot(self, update: AppInstalled) -> None:
        """Register our bot in the portal (worker side of ONAPPINSTALL); idempotent."""
        portal = await self._portals.get(update.member_id)
        if portal is None or not portal.installed:
            return
        if portal.bot_id and portal.bot_api == self._bot_api:
            await self._ensure_commands(
                update.member_id, BotIdentity(portal.bot_id, portal.bot_code, portal.bot_api)
            )
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
            "portal.bot.registered",
            extra={"member_id": update.member_id, "bot_id": bot.bot_id, "api": bot.api},
        )
        await self._ensure_commands(update.member_id, bot)

    async def _ensure_commands(self, member_id: str, bot: BotIdentity) -> None:
        """Register the commands this bot does not have yet (their ids kept per bot in their own table,
        not in ``Portal.settings``, which the admin edits at the same time)."""
        if not self._commands or self._registered is None:
            return
        known = await self._registered.registered(member_id, bot.bot_id)
        missing = [c for c in self._commands if c.name not in known]
        for command in missing:
            command_id = await self._chat.register_command(
                member_id, bot, command, handler_url=self._handler_url if bot.api == "v1" else None
            )
            await self._registered.add(member_id, bot.bot_id, command.name, command_id)
        if missing:
            log.info(
                "portal.commands.registered",
                extra={"member_id": member_id, "bot_id": bot.bot_id, "commands": [c.name for c in missing]},
            )

    async def uninstall(self, update: AppUninstalled) -> None:
        await self._portals.mark_uninstalled(update.member_id)
        self._tokens.pop(update.member_id, None)
        log.info("portal.uninstalled", extra={"member_id": update.member_id, "clean": update.clean})

    async def bot_deleted(self, update: BotDeleted) -> None:
        portal = await self._portals.get(update.member_id)
        if portal is not None and portal.bot_id == update.bot_id:
            await self._portals.set_bot(update.member_id, bot_id=0, bot_code="", bot_api=portal.bot_api)
