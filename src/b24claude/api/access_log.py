"""The access log: one ``http.request`` line per request, and the reason of every rejected event.

A pure ASGI middleware (it sees the final status even of a response an exception handler made, and
the time to the last byte). Fields: ``method``, ``path`` (never the query string: OAuth callbacks and
webhooks carry secrets there), ``status``, ``duration_ms`` and ``member_id`` when the request was
authenticated for a portal. Endpoints name the portal with :func:`note_portal`; a portal id that a
rejected request only *claims* goes into the rejection line as ``claimed_member_id`` instead, so a
forged id never opens a log file of its own under ``B24C_LOG_DIR``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("b24claude.access")
events_log = logging.getLogger("b24claude.ingress")

_PORTAL_KEY = "b24claude_member_id"
_MAX_CLAIMED = 64


def note_portal(request: Request, member_id: str) -> None:
    """The request was authenticated for ``member_id``: the access line carries it."""
    request.scope.setdefault("state", {})[_PORTAL_KEY] = member_id


def claimed_member_id(form: Mapping[str, Any] | None) -> str | None:
    """The ``auth[member_id]`` a form claims (unverified), cut to a sane length."""
    if not form:
        return None
    auth = form.get("auth")
    value = auth.get("member_id") if isinstance(auth, Mapping) else None
    return value[:_MAX_CLAIMED] if isinstance(value, str) and value else None


def log_rejected_event(
    request: Request, *, status: int, code: str, reason: str, form: Mapping[str, Any] | None = None
) -> None:
    """One ``b24.event.rejected`` line for a 4xx answer to a Bitrix24 event delivery."""
    fields: dict[str, Any] = {
        "path": request.url.path,
        "status": status,
        "code": code,
        "reason": reason[:300],
    }
    claimed = claimed_member_id(form)
    if claimed:
        fields["claimed_member_id"] = claimed
    events_log.warning("b24.event.rejected", extra=fields)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app dies before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            state = scope.get("state") or {}
            fields: dict[str, Any] = {
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            member_id = state.get(_PORTAL_KEY)
            if member_id:
                fields["member_id"] = member_id
            access_log.log(logging.WARNING if status >= 500 else logging.INFO, "http.request", extra=fields)
