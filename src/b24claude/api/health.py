"""Health: ``/healthz`` for probes (alive or not, nothing else), ``/healthz/details`` for a portal admin.

``/healthz`` is public — load balancers and uptime checks call it unauthenticated — so it says only
whether the service and its database answer: ``200 {"status": "ok"}`` or
``503 {"status": "unavailable"}``. The inbox counts it used to show (every portal's, to anyone) are
behind the app page's session: ``/healthz/details`` with ``Authorization: Bearer <session>`` of a
Bitrix24 administrator answers that administrator's portal's counts only. The operator of the server
sees every portal with ``b24claude inbox stats``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from b24claude.api.access_log import note_portal
from b24claude.errors import B24ClaudeError, Forbidden, Unauthorized

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

log = logging.getLogger("b24claude.api")


def build_health_router(container: Container) -> APIRouter:
    router = APIRouter()
    bearer = HTTPBearer(auto_error=False, description="The session token of the app page (POST /app).")

    @router.get(
        "/healthz",
        summary="Liveness: the service and its database answer (no details)",
        responses={503: {"description": "The database does not answer"}},
    )
    async def healthz() -> JSONResponse:
        try:
            await container.store.ping()
        except B24ClaudeError as exc:
            log.warning("health.database.unavailable", extra={"code": exc.code})
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get(
        "/healthz/details",
        summary="Inbox counts of the caller's portal (Bitrix24 administrators, app-page session)",
        responses={401: {"description": "No or a bad session"}, 403: {"description": "Not an admin"}},
    )
    async def details(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> dict[str, Any]:
        if creds is None:
            raise Unauthorized("Authorization: Bearer <session token from the app page> is required")
        session = await container.frame_auth.session(creds.credentials)
        note_portal(request, session.member_id)
        if not session.is_admin:
            raise Forbidden("only a Bitrix24 administrator may see this")
        counts = await container.store.inbox.counts(session.member_id)
        return {"status": "ok", "member_id": session.member_id, "inbox": dict(counts)}

    return router
