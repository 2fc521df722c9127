"""Proving an ONAPPINSTALL before it is trusted (the threat model is in the README's security section).

An install is a form anyone can post. What it names — a ``member_id``, a ``domain``, a
``client_endpoint``, a ``server_endpoint`` — is a claim, and each part is checked against something
we trust, in this order, before anything is stored:

1. **Shape** (:func:`check_claim`, no I/O): the domain is a well-formed public host name, the client
   endpoint is ``https://<domain>/rest/`` (no IP literal, loopback, private range, port or
   credentials: :mod:`b24claude.kit.urls`), and the ``server_endpoint``, if given, names the configured
   OAuth server or one of Bitrix24's two. Only the sandbox lets a loopback endpoint through.
2. **The OAuth server** (configuration, never input): the install's refresh token is exchanged there
   with our client id and secret (POST body). Only a token Bitrix24 issued to our application
   survives; the server's answer says which portal it belongs to, and that must be the claimed
   ``member_id`` at the claimed endpoint.
3. **The portal itself**, at the endpoint the OAuth server named, with the new access token:
   ``app.info`` must name our application.

The secret never goes anywhere but the configured OAuth server, and no address taken from the
install is called before step 2 vouched for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from b24claude.errors import BadRequest, Bitrix24AuthError, Bitrix24Error, ServiceUnavailable, Unauthorized
from b24claude.events.parse import ClassicEnvelope
from b24claude.kit.urls import (
    KNOWN_OAUTH_SERVERS,
    UnsafeURL,
    check_host,
    check_url,
    is_loopback_host,
    oauth_origin,
)
from b24claude.ports.bitrix import InstallVerifier, TokenGrant

log = logging.getLogger("b24claude.portals")


@dataclass(frozen=True, slots=True)
class InstallPolicy:
    """What an install is checked against: our application and the trusted OAuth server."""

    client_id: str
    oauth_url: str
    app_code: str = ""  # app.info CODE of a Market app; "" = the client id (a local application)
    allow_loopback: bool = False  # the sandbox's emulators on 127.0.0.1 (never in production)
    rate_per_s: float = 1.0
    burst: int = 10

    @property
    def oauth_origin(self) -> str:
        return oauth_origin(self.oauth_url)

    @property
    def trusted_oauth_servers(self) -> frozenset[str]:
        return frozenset({self.oauth_origin, *KNOWN_OAUTH_SERVERS})

    @property
    def expected_code(self) -> str:
        return self.app_code or self.client_id


@dataclass(frozen=True, slots=True)
class InstallClaim:
    """An install's fields after the shape checks (nothing here is proven yet)."""

    member_id: str
    domain: str
    client_endpoint: str  # "" for an installer frame: the OAuth server names it
    refresh_token: str
    application_token: str


def check_claim(env: ClassicEnvelope, policy: InstallPolicy) -> InstallClaim:
    """Step 1: refuse a malformed or impossible install before any I/O (400, or 401 for an OAuth
    server we do not trust)."""
    auth = env.auth
    if not (auth.refresh_token and auth.client_endpoint and auth.application_token and auth.domain):
        raise BadRequest("install event lacks refresh_token, domain, client_endpoint or application_token")
    try:
        domain = check_host(auth.domain)  # a name even in the sandbox (its emulators use one)
        endpoint = check_url(auth.client_endpoint, allow_loopback=policy.allow_loopback, path="/rest/")
    except UnsafeURL as exc:
        raise BadRequest(f"install refused: {exc}") from None
    loopback_sandbox = policy.allow_loopback and is_loopback_host(endpoint.host)
    if not loopback_sandbox and endpoint.url != f"https://{domain}/rest/":
        raise BadRequest("install refused: client_endpoint is not https://<domain>/rest/")
    if auth.server_endpoint and oauth_origin(auth.server_endpoint) not in policy.trusted_oauth_servers:
        log.warning("install.refused.untrusted_oauth_server", extra={"member_id": auth.member_id})
        raise Unauthorized("install refused: server_endpoint is not a Bitrix24 OAuth server we trust")
    return InstallClaim(
        member_id=auth.member_id,
        domain=domain,
        client_endpoint=endpoint.url,
        refresh_token=auth.refresh_token,
        application_token=auth.application_token,
    )


async def confirm_install(
    claim: InstallClaim, verifier: InstallVerifier, policy: InstallPolicy
) -> TokenGrant:
    """Steps 2 and 3: the OAuth server and then the portal vouch for the claim; returns the fresh
    token pair (the install's own refresh token is spent by the exchange)."""
    grant = await _exchange(claim, verifier)
    if grant.member_id != claim.member_id:
        log.warning("install.refused.other_portal", extra={"member_id": claim.member_id})
        raise Unauthorized("install not confirmed: the token belongs to another portal")
    try:
        named = check_url(grant.client_endpoint, allow_loopback=policy.allow_loopback, path="/rest/")
    except UnsafeURL:
        raise Unauthorized(
            "install not confirmed: the OAuth server named no usable portal endpoint"
        ) from None
    # An installer frame names no endpoint (claim.client_endpoint ""): the one the OAuth server
    # named must then be the claimed domain's (or, in the sandbox only, its loopback emulator).
    expected = claim.client_endpoint or f"https://{claim.domain}/rest/"
    sandbox_frame = not claim.client_endpoint and policy.allow_loopback and is_loopback_host(named.host)
    if named.url != expected and not sandbox_frame:
        log.warning("install.refused.endpoint_mismatch", extra={"member_id": claim.member_id})
        raise Unauthorized("install not confirmed: client_endpoint is not the portal's")
    try:
        app = await verifier.app_info(named.url, grant.access_token, member_id=claim.member_id)
    except Bitrix24AuthError:
        raise Unauthorized("install not confirmed: the portal refused the token") from None
    except Bitrix24Error as exc:
        raise ServiceUnavailable(f"install could not be confirmed: the portal answered {exc.code}") from None
    if app.code != policy.expected_code:
        log.warning("install.refused.other_application", extra={"member_id": claim.member_id})
        raise Unauthorized("install not confirmed: the portal names another application")
    return grant


async def _exchange(claim: InstallClaim, verifier: InstallVerifier) -> TokenGrant:
    try:
        return await verifier.exchange_refresh_token(claim.refresh_token, member_id=claim.member_id)
    except Bitrix24AuthError:
        log.warning("install.refused.by_oauth_server", extra={"member_id": claim.member_id})
        raise Unauthorized("install not confirmed: the OAuth server refused its refresh token") from None
    except Bitrix24Error as exc:
        raise ServiceUnavailable(
            f"install could not be confirmed: the OAuth server answered {exc.code}"
        ) from None
