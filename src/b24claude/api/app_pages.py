"""The app inside Bitrix24: the frame page (``POST /app``) and its settings API (``/app/api/*``).

The frame POST is checked against the portal (``portals.frame``); the page carries a signed session
that the API takes as ``Authorization: Bearer``. The portal an API call acts on is always the one in
the session — no route takes a member_id from the request.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from b24claude.api.forms import FORM, read_form, read_json_object
from b24claude.api.i18n import page_lang
from b24claude.api.pages import LineView, render_app, render_error, render_installer
from b24claude.api.responses import error_headers
from b24claude.errors import B24ClaudeError, BadRequest, Bitrix24Error, Forbidden, Unauthorized
from b24claude.portals.frame import AppSession, FrameRequest
from b24claude.portals.installer import InstallerFrame
from b24claude.ports.privacy import PII_TYPES

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

log = logging.getLogger("b24claude.api.app")

MAX_SETTINGS_BYTES = 64_000
BX24_JS_PATH = "/bitrix/js/rest/bx24.js"

_FRAME_FIELDS = {
    "AUTH_ID": "Access token of the user who opened the page (checked against the portal).",
    "AUTH_EXPIRES": "Lifetime of AUTH_ID, seconds.",
    "REFRESH_ID": "Refresh token of that user (not used or stored).",
    "member_id": "The portal's id.",
    "status": "Application status (L, F, …).",
    "PLACEMENT": "Where the page was opened (DEFAULT for the app's main page).",
    "PLACEMENT_OPTIONS": "JSON string with the placement's context.",
    "SERVER_ENDPOINT": "OAuth server (informational).",
    "APPLICATION_TOKEN": "The app's application token on the portal (checked when present).",
    "APPLICATION_SCOPE": "Comma-separated scopes.",
}
FRAME_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["AUTH_ID", "member_id"],
                    "properties": {
                        name: {"type": "string", "maxLength": 256, "description": text}
                        for name, text in _FRAME_FIELDS.items()
                    },
                }
            }
        },
    },
    "responses": {"401": {"description": "The portal did not confirm the frame / Вход не подтверждён"}},
}

_RETENTION = {
    name: {"type": "integer", "minimum": 0, "maximum": 36_500}
    for name in ("dialogues_days", "inbox_days", "ledger_days", "logs_days")
}
_TYPES = {"type": "array", "items": {"type": "string", "enum": list(PII_TYPES)}, "uniqueItems": True}
PRIVACY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "masked_types": _TYPES,
        "respect_consent": {"type": "boolean"},
        "consented_masked_types": _TYPES,
        "log_message_text": {"type": "boolean"},
        "retention": {"type": "object", "additionalProperties": False, "properties": _RETENTION},
    },
}
CONSENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["granted"],
    "additionalProperties": False,
    "properties": {"granted": {"type": "boolean"}},
}


_BOT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "persona": {"type": "string", "maxLength": 4000},
        "company_name": {"type": "string", "maxLength": 200},
        "default_language": {"type": "string", "enum": ["", "ru", "en"]},
        "all_lines": {"type": "boolean"},
        "line_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 500},
    },
}
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"bot": _BOT, "privacy": PRIVACY_SCHEMA},
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _text(value: Any) -> str:
    """A form field as a string; a bracketed group where a plain value belongs counts as absent."""
    return value if isinstance(value, str) else ""


def _origin(url: str) -> str:
    """``https://acme.bitrix24.ru/rest/…`` → ``https://acme.bitrix24.ru`` ("" for nothing usable)."""
    parts = urlsplit(url.strip())
    return (
        f"{parts.scheme}://{parts.netloc}".lower()
        if parts.scheme in ("http", "https") and parts.netloc
        else ""
    )


def _page_headers(nonce: str, ancestors: list[str]) -> dict[str, str]:
    """The page holds a session token: never cached, framed only by its own portal, scripts only
    with this response's nonce (ours and BX24.js), requests only to ourselves."""
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
            f"connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
            f"frame-ancestors {' '.join(dict.fromkeys(a for a in ancestors if a))}"
        ),
    }


def _ancestors(domain: str, client_endpoint: str) -> list[str]:
    host = domain.strip().lower()
    return [f"https://{host}", f"http://{host}", _origin(client_endpoint)]


def build_app_router(container: Container) -> APIRouter:
    router = APIRouter()
    frames = container.frame_auth
    admin = container.privacy_admin
    app_settings = container.app_settings
    lines_directory = container.gateway
    settings = container.settings
    max_form_bytes = settings.max_body_bytes
    bearer = HTTPBearer(auto_error=False, description="The session token of the app page (POST /app).")

    def bx24_js(client_endpoint: str) -> str:
        return settings.bx24_js_url or (_origin(client_endpoint) + BX24_JS_PATH)

    async def session(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> AppSession:
        if creds is None:
            raise Unauthorized("Authorization: Bearer <session token from the app page> is required")
        return await frames.session(creds.credentials)

    async def admin_session(current: AppSession = Depends(session)) -> AppSession:
        # Checked before the body is read: a non-admin gets 403 whatever they send.
        if not current.is_admin:
            raise Forbidden("only a Bitrix24 administrator may change this")
        return current

    async def known_lines(member_id: str) -> list[LineView] | None:
        try:
            found = await lines_directory.open_lines(member_id)
        except Bitrix24Error as exc:
            log.info("app.lines.unavailable", extra={"member_id": member_id, "code": exc.code})
            return None
        return [LineView(line.id, line.name, line.active) for line in found]

    def error_page(exc: B24ClaudeError, lang: str) -> HTMLResponse:
        status = 503 if exc.http_status >= 500 else exc.http_status
        reason = exc.message if status < 500 else "temporarily unavailable"
        return HTMLResponse(
            render_error(status, reason, lang=lang), status_code=status, headers=error_headers(exc)
        )

    @router.post(
        "/app",
        response_class=HTMLResponse,
        summary="The app page: Bitrix24's frame POST, verified with the portal",
        openapi_extra=FRAME_OPENAPI,
    )
    async def app_frame(
        request: Request,
        domain: str = Query("", alias="DOMAIN", max_length=255, description="Portal domain"),
        lang: str = Query("", alias="LANG", max_length=8, description="Interface language"),
        protocol: str = Query("", alias="PROTOCOL", max_length=1, description="1 = https"),
        app_sid: str = Query("", alias="APP_SID", max_length=64, description="BX24.js link"),
        section: str = Query("", max_length=32, description="The section to open (overview, bot, …)"),
    ) -> HTMLResponse:
        try:
            form = await read_form(request, max_form_bytes)
            opened = await frames.open(
                FrameRequest(
                    member_id=_text(form.get("member_id")),
                    # DOMAIN comes in the query (widget docs); some callers put it in the body.
                    domain=domain or _text(form.get("DOMAIN")),
                    auth_id=_text(form.get("AUTH_ID")),
                    application_token=_text(form.get("APPLICATION_TOKEN")),
                )
            )
            member_id = opened.session.member_id
            view = await app_settings.view(member_id)
            consents = await admin.consents(member_id)
        except B24ClaudeError as exc:
            return error_page(exc, lang)
        lines = await known_lines(member_id)
        nonce = secrets.token_urlsafe(12)
        endpoint = opened.portal.auth.client_endpoint
        html = render_app(
            lang=lang,
            token=opened.token,
            nonce=nonce,
            bx24_js=bx24_js(endpoint),
            user_name=opened.user_name or f"#{opened.session.user_id}",
            is_admin=opened.session.is_admin,
            domain=opened.portal.domain,
            section=section,
            settings=view.to_dict(),
            defaults={"persona": settings.persona, "company_name": settings.company_name},
            lines=lines,
            consents=consents,
        )
        return HTMLResponse(html, headers=_page_headers(nonce, _ancestors(opened.portal.domain, endpoint)))

    @router.get("/app/api/settings", summary="The portal's bot and privacy settings (any user of the portal)")
    async def get_settings(current: AppSession = Depends(session)) -> dict[str, Any]:
        view = await app_settings.view(current.member_id)
        return {**view.to_dict(), "user": {"id": current.user_id, "admin": current.is_admin}}

    @router.patch(
        "/app/api/settings",
        summary="Change some settings (Bitrix24 administrators); fields left out keep their values",
        openapi_extra=_json_body(SETTINGS_SCHEMA),
    )
    async def patch_settings(
        request: Request, current: AppSession = Depends(admin_session)
    ) -> dict[str, Any]:
        changes = await read_json_object(request, MAX_SETTINGS_BYTES)
        lines: set[int] | None = None
        bot = changes.get("bot")
        if isinstance(bot, Mapping) and "line_ids" in bot:
            found = await known_lines(current.member_id)
            lines = {line.id for line in found} if found is not None else None
        view = await app_settings.update(
            current.member_id, changes, user_id=current.user_id, is_admin=current.is_admin, known_lines=lines
        )
        return view.to_dict()

    @router.get("/app/api/consents", summary="Recorded client consents (any user of the portal)")
    async def get_consents(current: AppSession = Depends(session)) -> dict[str, Any]:
        records = await admin.consents(current.member_id)
        return {
            "consents": [
                {
                    "client_key": r.client_key,
                    "granted": r.granted,
                    "source": r.source,
                    "updated_at": r.updated_at,
                }
                for r in records
            ]
        }

    @router.get("/app/api/privacy", summary="The portal's privacy settings (any user of the portal)")
    async def get_privacy(current: AppSession = Depends(session)) -> dict[str, Any]:
        policy = await admin.policy(current.member_id)
        return {"privacy": policy.to_dict(), "user": {"id": current.user_id, "admin": current.is_admin}}

    @router.put(
        "/app/api/privacy",
        summary="Replace the privacy settings (Bitrix24 administrators)",
        openapi_extra=_json_body(PRIVACY_SCHEMA),
    )
    async def put_privacy(request: Request, current: AppSession = Depends(admin_session)) -> dict[str, Any]:
        raw = await read_json_object(request, MAX_SETTINGS_BYTES)
        policy = await admin.set_policy(
            current.member_id, raw, user_id=current.user_id, is_admin=current.is_admin
        )
        return {"privacy": policy.to_dict()}

    @router.put(
        "/app/api/consents/{client_key}",
        summary="Record a client's consent (Bitrix24 administrators)",
        openapi_extra=_json_body(CONSENT_SCHEMA),
    )
    async def put_consent(
        request: Request,
        client_key: str = Path(max_length=128, description="Opaque client id, e.g. user:123"),
        current: AppSession = Depends(admin_session),
    ) -> dict[str, Any]:
        body = await read_json_object(request, MAX_SETTINGS_BYTES)
        granted = body.get("granted")
        if not isinstance(granted, bool) or set(body) != {"granted"}:
            raise BadRequest('body must be {"granted": true|false}')
        await admin.set_consent(
            current.member_id, client_key, granted, user_id=current.user_id, is_admin=current.is_admin
        )
        return {"client_key": client_key, "granted": granted}

    return router


async def installer_page(container: Container, request: Request, form: Mapping[str, Any]) -> HTMLResponse:
    """The installer frame (``POST /b24/install`` without an ``event``): prove it, bind our widgets
    and events, then let the page call ``BX24.installFinish()``. Stores nothing."""
    query = request.query_params
    lang = query.get("LANG", "")[:8]
    try:
        done = await container.installer.run(
            InstallerFrame(
                member_id=_text(form.get("member_id")),
                domain=query.get("DOMAIN", "")[:255] or _text(form.get("DOMAIN")),
                auth_id=_text(form.get("AUTH_ID")),
                refresh_id=_text(form.get("REFRESH_ID")),
            )
        )
    except B24ClaudeError as exc:
        status = 503 if exc.http_status >= 500 else exc.http_status
        reason = exc.message if status < 500 else "temporarily unavailable"
        return HTMLResponse(
            render_error(status, reason, lang=lang), status_code=status, headers=error_headers(exc)
        )
    nonce = secrets.token_urlsafe(12)
    script = container.settings.bx24_js_url or (_origin(done.client_endpoint) + BX24_JS_PATH)
    domain = query.get("DOMAIN", "") or _text(form.get("DOMAIN"))
    return HTMLResponse(
        render_installer(lang=page_lang(lang), nonce=nonce, bx24_js=script),
        headers=_page_headers(nonce, _ancestors(domain, done.client_endpoint)),
    )
