"""The app inside Bitrix24: the frame page (``POST /app``) and its settings API (``/app/api/*``).

The frame POST is checked against the portal (``portals.frame``); the page carries a signed session
that the API takes as ``Authorization: Bearer``. The portal an API call acts on is always the one in
the session — no route takes a member_id from the request.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from b24claude.api.forms import FORM, read_form, read_json_object
from b24claude.api.page_html import render_error, render_page
from b24claude.api.responses import error_headers
from b24claude.errors import B24ClaudeError, BadRequest, Forbidden, Unauthorized
from b24claude.portals.frame import AppSession, FrameRequest
from b24claude.ports.privacy import PII_TYPES

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

MAX_SETTINGS_BYTES = 64_000

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


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _text(value: Any) -> str:
    """A form field as a string; a bracketed group where a plain value belongs counts as absent."""
    return value if isinstance(value, str) else ""


def build_app_router(container: Container) -> APIRouter:
    router = APIRouter()
    frames = container.frame_auth
    admin = container.privacy_admin
    max_form_bytes = container.settings.max_body_bytes
    bearer = HTTPBearer(auto_error=False, description="The session token of the app page (POST /app).")

    async def session(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> AppSession:
        if creds is None:
            raise Unauthorized("Authorization: Bearer <session token from the app page> is required")
        return await frames.session(creds.credentials)

    async def admin_session(current: AppSession = Depends(session)) -> AppSession:
        # Checked before the body is read: a non-admin gets 403 whatever they send.
        if not current.is_admin:
            raise Forbidden("only a Bitrix24 administrator may change this")
        return current

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
    ) -> HTMLResponse:
        page_lang = "en" if lang.lower().startswith("en") else "ru"
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
            policy = await admin.policy(opened.session.member_id)
        except B24ClaudeError as exc:
            status = 503 if exc.http_status >= 500 else exc.http_status
            headers = error_headers(exc)
            reason = exc.message if status < 500 else "temporarily unavailable"
            return HTMLResponse(
                render_error(status, reason, lang=page_lang), status_code=status, headers=headers
            )
        nonce = secrets.token_urlsafe(12)
        html = render_page(
            policy,
            user_id=opened.session.user_id,
            is_admin=opened.session.is_admin,
            token=opened.token,
            lang=page_lang,
            nonce=nonce,
        )
        host = opened.portal.domain.strip().lower()
        return HTMLResponse(
            html,
            headers={
                # The page holds a session token: never cached, only framed by its own portal.
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": (
                    f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
                    f"connect-src 'self'; frame-ancestors https://{host} http://{host}"
                ),
            },
        )

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
