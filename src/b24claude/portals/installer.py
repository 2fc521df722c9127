"""The installer page of the application with an interface ("Initial installation path").

Bitrix24 opens it once, for the admin who added the app, in a frame, with the frame POST of any
app page (``member_id``, ``AUTH_ID``, ``REFRESH_ID``, ``DOMAIN`` …; docs settings/app-installation/
local-apps/installation-master.md, installation-finish.md). Its job: bind what the app needs —
the app page in the left menu, a settings entry, ONAPPINSTALL and ONAPPUNINSTALL — then call
``BX24.installFinish()`` in the browser. Bitrix24 sends ONAPPINSTALL (with the application token)
to the handler bound here once the install is finished, and that event stores the portal through
the same checks as a server-side install (:mod:`.install`).

Nothing is stored here, and nothing is called on the portal before the frame's claims are proven
the way an install's are (:func:`.install.confirm_install`): the ``REFRESH_ID`` is exchanged at the
configured OAuth server (our client id and secret), whose answer must name the claimed portal at
``https://<DOMAIN>/rest/``; ``app.info`` at that endpoint must name our application; and the
user must be an administrator (``user.admin``). Only then are the bindings made, with the fresh
token the OAuth server issued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from b24claude.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Forbidden,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from b24claude.kit.clock import Clock
from b24claude.kit.ratelimit import KeyedTokenBucket
from b24claude.kit.urls import UnsafeURL, check_host
from b24claude.portals.install import InstallClaim, InstallPolicy, confirm_install
from b24claude.ports.bitrix import AppSetup, EventHandler, InstallVerifier, Widget

log = logging.getLogger("b24claude.portals.installer")

MAX_TOKEN_CHARS = 256


@dataclass(frozen=True, slots=True)
class InstallerFrame:
    member_id: str
    domain: str
    auth_id: str
    refresh_id: str


@dataclass(frozen=True, slots=True)
class AppLayout:
    """What the installer binds: our pages and event handlers on this deployment."""

    widgets: Sequence[Widget]
    events: Sequence[EventHandler]


def default_layout(public_url: str, *, events_url: str) -> AppLayout:
    """The app page in the left menu (api-reference/widgets/left-menu.md), its settings in the
    Contact Center (where an admin sets up Open Lines), and the two lifecycle events."""
    base = public_url.rstrip("/")
    return AppLayout(
        widgets=(
            Widget(
                placement="LEFT_MENU",
                handler=f"{base}/app",
                titles={"ru": "Claude", "en": "Claude"},
                descriptions={
                    "ru": "Ассистент открытых линий: настройки и качество ответов",
                    "en": "Open Lines assistant: settings and answer quality",
                },
            ),
            Widget(
                placement="CONTACT_CENTER",
                handler=f"{base}/app?section=bot",
                titles={"ru": "Claude: настройки", "en": "Claude: settings"},
                descriptions={
                    "ru": "Настройки ассистента открытых линий",
                    "en": "Settings of the Open Lines assistant",
                },
            ),
        ),
        events=(
            EventHandler("ONAPPINSTALL", f"{base}/b24/install"),
            EventHandler("ONAPPUNINSTALL", events_url),
        ),
    )


@dataclass(frozen=True, slots=True)
class InstalledFrame:
    member_id: str
    user_id: int
    client_endpoint: str  # the portal's, as the OAuth server named it (its origin serves BX24.js)


class InstallerService:
    def __init__(
        self,
        *,
        verifier: InstallVerifier,
        setup: AppSetup,
        policy: InstallPolicy,
        layout: AppLayout,
        clock: Clock,
    ) -> None:
        self._verifier = verifier
        self._setup = setup
        self._policy = policy
        self._layout = layout
        self._limiter = KeyedTokenBucket(
            rate_per_s=policy.rate_per_s, burst=policy.burst, monotonic=clock.monotonic
        )

    async def run(self, frame: InstallerFrame) -> InstalledFrame:
        """Prove the frame, then bind; raises Unauthorized (401), Forbidden (403), 429 or 503."""
        if not (frame.member_id and frame.domain and frame.auth_id and frame.refresh_id):
            raise Unauthorized("installer frame lacks member_id, DOMAIN, AUTH_ID or REFRESH_ID")
        if len(frame.refresh_id) > MAX_TOKEN_CHARS or len(frame.auth_id) > MAX_TOKEN_CHARS:
            raise Unauthorized("AUTH_ID / REFRESH_ID are not Bitrix24 tokens")
        try:
            domain = check_host(frame.domain.strip().lower().removeprefix("https://").removeprefix("http://"))
        except UnsafeURL:
            raise Unauthorized("DOMAIN is not a portal host name") from None
        wait = self._limiter.take("installer")
        if wait > 0:
            raise TooManyRequests("too many installer pages to confirm at once", retry_after=wait)
        claim = InstallClaim(
            member_id=frame.member_id,
            domain=domain,
            client_endpoint="",
            refresh_token=frame.refresh_id,
            application_token="",
        )
        grant = await confirm_install(claim, self._verifier, self._policy)
        try:
            admin = await self._setup.is_admin(
                grant.client_endpoint, grant.access_token, member_id=claim.member_id
            )
        except Bitrix24AuthError:
            raise Unauthorized("the portal refused the installer's token") from None
        except Bitrix24Error as exc:
            raise ServiceUnavailable(f"the portal answered {exc.code}") from None
        if not admin:
            log.warning("installer.refused.not_admin", extra={"member_id": claim.member_id})
            raise Forbidden("only a Bitrix24 administrator may install the application")
        try:
            await self._setup.bind(
                grant.client_endpoint,
                grant.access_token,
                member_id=claim.member_id,
                widgets=self._layout.widgets,
                events=self._layout.events,
            )
        except Bitrix24Error as exc:
            log.warning("installer.bind.failed", extra={"member_id": claim.member_id, "code": exc.code})
            raise ServiceUnavailable(f"binding the app's pages failed: {exc.code}") from None
        log.info(
            "installer.bound",
            extra={
                "member_id": claim.member_id,
                "user_id": grant.user_id,
                "widgets": len(self._layout.widgets),
                "events": len(self._layout.events),
            },
        )
        return InstalledFrame(claim.member_id, grant.user_id, grant.client_endpoint)
