"""The app's pages inside Bitrix24: who opened the frame, and the session that follows.

Bitrix24 opens an app page by POSTing a form into the frame (reference/bitrix24.md §1.2, §8; docs
``settings/oauth/simple-way.md``, ``api-reference/widgets/_includes/widget_data.md``): ``DOMAIN``,
``PROTOCOL``, ``LANG``, ``APP_SID`` in the query; ``AUTH_ID`` (the *opening user's* access token),
``AUTH_EXPIRES``, ``REFRESH_ID``, ``member_id``, ``status``, ``PLACEMENT``… in the body; newer
placements add ``SERVER_ENDPOINT``, ``APPLICATION_TOKEN`` and ``APPLICATION_SCOPE``.

Nothing in that form is signed, so none of it is believed as such. The portal must be installed
here and its stored domain must match; the ``AUTH_ID`` is then shown to the portal itself, at the
client endpoint stored at install (``user.current`` + ``user.admin``). A token of portal B sent with
portal A's member_id is refused by portal A. The result is a short-lived session bound to
``(member_id, user_id, is_admin)`` and signed with our key: every later API call names its portal
only through it.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from b24claude.errors import Bitrix24AuthError, Bitrix24Error, TooManyRequests, Unauthorized
from b24claude.kit.clock import Clock
from b24claude.kit.ratelimit import KeyedTokenBucket
from b24claude.kit.signed import SignedTokens
from b24claude.ports.bitrix import PortalUsers
from b24claude.ports.store import Portal, PortalRepository

log = logging.getLogger("b24claude.portals.frame")

SESSION_PURPOSE = "b24claude/app-session/v1"
MAX_AUTH_ID_CHARS = 256
# Each frame check costs the portal one REST request from its shared budget (2 rps): a flood of
# forged frames must not eat the bot's share.
FRAME_CHECKS_PER_S = 0.5
FRAME_CHECKS_BURST = 10


@dataclass(frozen=True, slots=True)
class FrameRequest:
    """The parts of a frame POST we act on."""

    member_id: str
    domain: str
    auth_id: str
    application_token: str = ""


@dataclass(frozen=True, slots=True)
class AppSession:
    member_id: str
    user_id: int
    is_admin: bool
    expires_at: float


@dataclass(frozen=True, slots=True)
class OpenedFrame:
    session: AppSession
    token: str  # the bearer for /app/api/*
    portal: Portal
    user_name: str = ""  # as user.current gave it


class FrameAuthService:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        users: PortalUsers,
        clock: Clock,
        signer: SignedTokens,
        session_ttl_s: float,
        checks_per_s: float = FRAME_CHECKS_PER_S,
        checks_burst: int = FRAME_CHECKS_BURST,
    ) -> None:
        self._portals = portals
        self._users = users
        self._clock = clock
        self._signer = signer
        self._ttl = session_ttl_s
        self._checks = KeyedTokenBucket(
            rate_per_s=checks_per_s, burst=checks_burst, monotonic=clock.monotonic
        )

    async def open(self, frame: FrameRequest) -> OpenedFrame:
        """Verify a frame POST against the portal; raises Unauthorized (401) when anything is off."""
        if not frame.member_id or not frame.auth_id or not frame.domain:
            raise Unauthorized("frame lacks member_id, AUTH_ID or DOMAIN")
        if len(frame.auth_id) > MAX_AUTH_ID_CHARS:
            raise Unauthorized("AUTH_ID is not a Bitrix24 token")
        portal = await self._portals.get(frame.member_id)
        if portal is None or not portal.installed:
            raise Unauthorized("unknown portal")
        if _host(portal.domain) != _host(frame.domain):
            raise Unauthorized("DOMAIN does not match the portal")
        if frame.application_token and not hmac.compare_digest(
            portal.application_token.encode(), frame.application_token.encode()
        ):
            raise Unauthorized("APPLICATION_TOKEN does not match")
        wait = self._checks.take(portal.member_id)
        if wait > 0:
            raise TooManyRequests("too many app frames for this portal", retry_after=wait)
        try:
            user = await self._users.verify_frame_user(portal.member_id, frame.auth_id)
        except Bitrix24Error as exc:
            if exc.retryable and not isinstance(exc, Bitrix24AuthError):
                raise  # the portal is busy or unreachable: 503, try again
            log.info("app.frame.refused", extra={"member_id": portal.member_id, "code": exc.code})
            raise Unauthorized("the portal did not accept AUTH_ID") from None
        session = AppSession(
            member_id=portal.member_id,
            user_id=user.user_id,
            is_admin=user.is_admin,
            expires_at=self._clock.now() + self._ttl,
        )
        token = self._signer.issue(
            {"m": session.member_id, "u": session.user_id, "a": session.is_admin},
            expires_at=session.expires_at,
        )
        log.info(
            "app.frame.opened",
            extra={"member_id": portal.member_id, "user_id": user.user_id, "admin": user.is_admin},
        )
        return OpenedFrame(session, token, portal, user.name)

    async def session(self, bearer: str) -> AppSession:
        """The session behind a bearer token; raises Unauthorized for a forged, expired or orphaned one."""
        claims = self._signer.read(bearer, now=self._clock.now())
        if claims is None:
            raise Unauthorized("session token is invalid or expired")
        member_id, user_id, is_admin = claims.get("m"), claims.get("u"), claims.get("a")
        if not isinstance(member_id, str) or not isinstance(user_id, int) or not isinstance(is_admin, bool):
            raise Unauthorized("session token is invalid or expired")
        portal = await self._portals.get(member_id)
        if portal is None or not portal.installed:
            raise Unauthorized("the portal of this session is not installed")
        return AppSession(member_id, user_id, is_admin, float(claims["exp"]))


def _host(domain: str) -> str:
    """``Acme.Bitrix24.ru``, ``https://acme.bitrix24.ru/`` → ``acme.bitrix24.ru``."""
    host = domain.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    return host.rstrip("/")
