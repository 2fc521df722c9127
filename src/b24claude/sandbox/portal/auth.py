"""OAuth server, access tokens, incoming webhooks, app install/uninstall (reference/bitrix24.md §1)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .base import JSON, Caller, Registry, RestError, as_list, param
from .state import App, RefreshToken, Token, Webhook

if TYPE_CHECKING:
    from .state import PortalState

DEFAULT_SCOPES = [
    "crm",
    "imbot",
    "imopenlines",
    "im",
    "user",
    "department",
    "task",
    "bizproc",
    "placement",
    "ai_admin",
    "disk",
    "landing",
]

methods = Registry()


@dataclass
class InstallResult:
    client_id: str
    access_token: str
    refresh_token: str
    expires_in: int
    member_id: str
    application_token: str
    domain: str
    client_endpoint: str
    server_endpoint: str
    scopes: list[str]
    handler_status: int | None
    handler_error: str | None = None


def _token() -> str:
    return secrets.token_hex(35)


def create_webhook(state: PortalState, user_id: int = 1, scopes: list[str] | None = None) -> str:
    code = secrets.token_hex(8)
    state.webhooks[code] = Webhook(code=code, user_id=user_id, scopes=list(scopes or DEFAULT_SCOPES))
    return code


def issue_tokens(
    state: PortalState, client_id: str, user_id: int, scopes: list[str]
) -> tuple[Token, RefreshToken]:
    now = state.now()
    access = Token(_token(), client_id, user_id, list(scopes), now + state.config.token_lifetime)
    refresh = RefreshToken(
        _token(), client_id, user_id, list(scopes), now + state.config.refresh_token_lifetime
    )
    state.tokens[access.value] = access
    state.refresh_tokens[refresh.value] = refresh
    return access, refresh


def issue_auth_code(state: PortalState, client_id: str, user_id: int = 1) -> str:
    code = secrets.token_hex(16)
    state.auth_codes[code] = (client_id, user_id, state.now() + state.config.auth_code_lifetime)
    return code


def token_response(state: PortalState, access: Token, refresh: RefreshToken) -> JSON:
    """Shape of fixture oauth_token_refresh_response.json."""
    return {
        "access_token": access.value,
        "client_endpoint": state.client_endpoint,
        "domain": urlsplit(state.server_endpoint).netloc,
        "expires": int(access.expires_at),
        "expires_in": int(state.config.token_lifetime),
        "member_id": state.config.member_id,
        "refresh_token": refresh.value,
        "scope": ",".join(access.scopes),
        "server_endpoint": state.server_endpoint,
        "status": state.apps[access.client_id].status if access.client_id in state.apps else "L",
        "user_id": access.user_id,
    }


def _portal_fields(state: PortalState, app: App) -> JSON:
    """The part of every ``auth[...]`` block that describes the portal and the app (not the tokens)."""
    return {
        "expires_in": str(int(state.config.token_lifetime)),
        "scope": ",".join(app.scopes),
        "domain": state.config.domain,
        "server_endpoint": state.server_endpoint,
        "status": app.status,
        "client_endpoint": state.client_endpoint,
        "member_id": state.config.member_id,
    }


def event_auth(
    state: PortalState,
    app: App,
    user_id: int,
    *,
    with_refresh: bool = True,
    with_expires: bool = True,
    client_id: bool = False,
) -> JSON:
    """The ``auth[...]`` block of an event carrying fresh tokens of ``user_id``."""
    access, refresh = issue_tokens(state, app.client_id, user_id, app.scopes)
    block: JSON = {"access_token": access.value}
    if with_expires:
        block["expires"] = str(int(access.expires_at))
    block.update(_portal_fields(state, app))
    if with_refresh:
        block["refresh_token"] = refresh.value
    block["user_id"] = str(user_id)
    if client_id:
        block["client_id"] = app.client_id
    block["application_token"] = app.application_token
    return block


# ----- app frames -----------------------------------------------------------------------------------
@dataclass
class FramePost:
    """What Bitrix24 sends when a user opens an app page or placement: a POST to the handler URL
    with part of the data in the query and the rest in a form body (docs: settings/oauth/
    simple-way.md, api-reference/widgets/_includes/widget_data.md; newer placement pages add
    SERVER_ENDPOINT, APPLICATION_TOKEN and APPLICATION_SCOPE)."""

    query: JSON
    form: JSON
    user_id: int
    access_token: str


def frame_post(
    state: PortalState,
    client_id: str,
    user_id: int,
    *,
    placement: str = "DEFAULT",
    placement_options: JSON | None = None,
    lang: str | None = None,
) -> FramePost:
    """Tokens for ``user_id`` (as the portal mints them when the user opens the app) and the POST."""
    app = state.apps.get(client_id)
    if app is None or not app.installed:
        raise KeyError(f"no installed app {client_id}")
    user = state.users.get(user_id)
    if user is None or user.get("_BOT") or user.get("_CONNECTOR") or not user.get("ACTIVE", True):
        raise KeyError(f"no active employee {user_id}")
    access, refresh = issue_tokens(state, client_id, user_id, app.scopes)
    query: JSON = {
        "DOMAIN": state.config.domain,
        "PROTOCOL": "1" if state.base_url.startswith("https://") else "0",
        "LANG": lang or state.config.language,
        "APP_SID": secrets.token_hex(16),
    }
    form: JSON = {
        "AUTH_ID": access.value,
        "AUTH_EXPIRES": str(int(state.config.token_lifetime)),
        "REFRESH_ID": refresh.value,
        "SERVER_ENDPOINT": state.server_endpoint,
        "APPLICATION_TOKEN": app.application_token,
        "APPLICATION_SCOPE": ",".join(app.scopes),
        "member_id": state.config.member_id,
        "status": app.status,
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": json.dumps(placement_options or {}, ensure_ascii=False),
    }
    return FramePost(query, form, user_id, access.value)


# ----- the OAuth server ---------------------------------------------------------------------------
def oauth_token(state: PortalState, params: JSON) -> tuple[int, JSON]:
    """``/oauth/token/``: grant_type authorization_code | refresh_token, with rotation."""
    state.stats.oauth_requests += 1
    grant = str(param(params, "grant_type", "") or "")
    client_id = str(param(params, "client_id", "") or "")
    secret = str(param(params, "client_secret", "") or "")
    if grant not in ("authorization_code", "refresh_token"):
        return 400, {"error": "invalid_request", "error_description": "Unsupported or missing grant_type"}
    app = state.apps.get(client_id)
    if app is None or not secrets.compare_digest(app.client_secret, secret) or not app.installed:
        return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
    now = state.now()
    if grant == "refresh_token":
        value = str(param(params, "refresh_token", "") or "")
        rt = state.refresh_tokens.get(value)
        if rt is None or rt.client_id != client_id or rt.used or rt.expires_at < now:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid authorization code or refresh token",
            }
        if state.config.rotate_refresh_tokens:
            rt.used = True
        access, refresh = issue_tokens(state, client_id, rt.user_id, rt.scopes)
        return 200, token_response(state, access, refresh)
    code = str(param(params, "code", "") or "")
    entry = state.auth_codes.pop(code, None)
    if entry is None or entry[0] != client_id or entry[2] < now:
        return 400, {
            "error": "invalid_grant",
            "error_description": "Invalid authorization code or refresh token",
        }
    access, refresh = issue_tokens(state, client_id, entry[1], app.scopes)
    return 200, token_response(state, access, refresh)


# ----- REST authentication ------------------------------------------------------------------------
def authenticate(state: PortalState, params: JSON, webhook: tuple[str, str] | None) -> Caller:
    if webhook is not None:
        user_id, code = webhook
        hook = state.webhooks.get(code)
        if hook is None or str(hook.user_id) != user_id:
            raise RestError(401, "NO_AUTH_FOUND", "Wrong authorization data")
        return Caller("webhook", hook.user_id, hook.scopes, None, code)
    value = params.get("auth")
    if not isinstance(value, str) or not value:
        raise RestError(401, "NO_AUTH_FOUND", "Wrong authorization data")
    token = state.tokens.get(value)
    if token is None or token.client_id not in state.apps or not state.apps[token.client_id].installed:
        raise RestError(401, "invalid_token", "The access token provided is invalid")
    if token.expires_at <= state.now():
        raise RestError(401, "expired_token", "The access token provided has expired.")
    return Caller("oauth", token.user_id, token.scopes, token.client_id)


# ----- install / uninstall ------------------------------------------------------------------------
async def install_app(
    state: PortalState,
    *,
    client_id: str,
    client_secret: str,
    install_url: str | None,
    scopes: list[str] | None,
    language: str,
    user_id: int,
    with_ui: bool = False,
    handler_url: str | None = None,
) -> InstallResult:
    """Register a local app and POST ONAPPINSTALL (fixture ONAPPINSTALL.json) to ``install_url``.

    An app with an interface gets no POST: Bitrix24 opens ``install_url`` in a frame for the admin
    instead, and the app stays unfinished until ``BX24.installFinish()``
    (settings/app-installation/local-apps/installation-master.md).
    """
    previous = state.apps.get(client_id)
    app = App(
        client_id=client_id,
        client_secret=client_secret,
        application_token=previous.application_token if previous else secrets.token_hex(16),
        scopes=list(scopes or DEFAULT_SCOPES),
        install_url=install_url,
        language=language,
        version=(previous.version + 1) if previous else 1,
        finished=not with_ui,
        with_ui=with_ui,
        handler_url=handler_url,
        installed_by=user_id,
    )
    state.apps[client_id] = app
    # Bitrix removes handlers and widgets on reinstall/update: the installer must bind again.
    state.event_bindings = [b for b in state.event_bindings if b.client_id != client_id]
    state.placements = [p for p in state.placements if p.client_id != client_id]
    body = app_installed_body(state, app, user_id)
    access_token, refresh_token = body["auth"]["access_token"], body["auth"]["refresh_token"]
    status: int | None = None
    error: str | None = None
    if install_url and not with_ui:
        status, error = await state.deliverer.post_form_now(install_url, body, event="ONAPPINSTALL")
    return InstallResult(
        client_id=client_id,
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(state.config.token_lifetime),
        member_id=state.config.member_id,
        application_token=app.application_token,
        domain=state.config.domain,
        client_endpoint=state.client_endpoint,
        server_endpoint=state.server_endpoint,
        scopes=list(app.scopes),
        handler_status=status,
        handler_error=error,
    )


def app_installed_body(state: PortalState, app: App, user_id: int) -> JSON:
    """ONAPPINSTALL (fixture ONAPPINSTALL.json) with fresh tokens of ``user_id``."""
    access, refresh = issue_tokens(state, app.client_id, user_id, app.scopes)
    auth: JSON = {
        "access_token": access.value,
        **_portal_fields(state, app),
        "refresh_token": refresh.value,
        "application_token": app.application_token,
    }
    return {
        "event": "ONAPPINSTALL",
        "data": {"VERSION": str(app.version), "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": app.language},
        "ts": str(int(state.now())),
        "auth": auth,
    }


async def uninstall_app(state: PortalState, client_id: str, *, clean: bool = True) -> int | None:
    """Mark the app uninstalled, revoke its tokens, POST ONAPPUNINSTALL to its install URL."""
    app = state.apps.get(client_id)
    if app is None:
        raise KeyError(client_id)
    app.installed = False
    for store in (state.tokens, state.refresh_tokens):
        for key in [k for k, t in store.items() if t.client_id == client_id]:
            del store[key]
    url = (
        next(
            (
                b.handler
                for b in state.event_bindings
                if b.client_id == client_id and b.event == "ONAPPUNINSTALL"
            ),
            None,
        )
        # An API-only app hears of its removal at its install path; one with an interface only
        # through event.bind.
        or (None if app.with_ui else app.install_url)
    )
    state.event_bindings = [b for b in state.event_bindings if b.client_id != client_id]
    state.placements = [p for p in state.placements if p.client_id != client_id]
    for bot_id in [b.id for b in state.bots.values() if b.client_id == client_id]:
        del state.bots[bot_id]
    if not url:
        return None
    body: JSON = {
        "event": "ONAPPUNINSTALL",
        "data": {"LANGUAGE_ID": app.language, "CLEAN": "1" if clean else "0"},
        "ts": str(int(state.now())),
        "auth": {
            "domain": state.config.domain,
            "server_endpoint": state.server_endpoint,
            "client_endpoint": state.client_endpoint,
            "member_id": state.config.member_id,
            "application_token": app.application_token,
        },
    }
    status, _ = await state.deliverer.post_form_now(url, body, event="ONAPPUNINSTALL")
    return status


# ----- app-level methods --------------------------------------------------------------------------
@methods.add("app.info")
async def app_info(state: PortalState, caller: Caller, params: JSON) -> Any:
    if caller.client_id is None:
        return {"SCOPE": caller.scopes, "LICENSE": "ru_project", "LICENSE_TYPE": "project"}
    app = state.apps[caller.client_id]
    return {
        "ID": list(state.apps).index(app.client_id) + 1,
        "CODE": app.client_id,
        "VERSION": app.version,
        "STATUS": app.status,
        "INSTALLED": app.installed and app.finished,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": app.language,
        "LICENSE": "ru_project",
        "LICENSE_TYPE": "project",
        "LICENSE_FAMILY": "project",
    }


@methods.add("scope")
async def scope(state: PortalState, caller: Caller, params: JSON) -> Any:
    if param(params, "full"):
        return list(DEFAULT_SCOPES)
    return list(caller.scopes)


@methods.add("methods")
async def list_methods(state: PortalState, caller: Caller, params: JSON) -> Any:
    from .rest import all_methods

    return sorted(spec.name for spec in all_methods().values())


def scopes_from(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return [str(s) for s in as_list(value)]
