"""Health: ``/healthz`` for probes (alive or not, nothing else), ``/readyz`` for load balancers (the
database, the queue and Redis answer, and the process is not shutting down), ``/healthz/details``
for a portal admin.

``/healthz`` is public — load balancers and uptime checks call it unauthenticated — so it says only
whether the service and its database answer: ``200 {"status": "ok"}`` or
``503 {"status": "unavailable"}``. The inbox counts it used to show (every portal's, to anyone) are
behind the app page's session: ``/healthz/details`` with ``Authorization: Bearer <session>`` of a
Bitrix24 administrator answers that administrator's portal's counts only. The operator of the server
sees every portal with ``b24claude inbox stats``.
"""

from __future__ import annotations

import asyncio
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

READY_TIMEOUT_S = 3.0  # per dependency: a probe must answer quickly or the process is not ready


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
        "/readyz",
        summary="Readiness: the database, the queue and Redis (where configured) answer; not draining",
        responses={503: {"description": "A dependency does not answer, or the process is shutting down"}},
    )
    async def readyz() -> JSONResponse:
        if container.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        probes = {"database": container.store.ping, "queue": container.queue.ping, "redis": container.shared.check}
        checks: dict[str, str] = {}
        for name, probe in probes.items():
            try:
                await asyncio.wait_for(probe(), READY_TIMEOUT_S)
                checks[name] = "ok"
            except (B24ClaudeError, TimeoutError) as exc:
                code = getattr(exc, "code", "timeout")
                log.warning("health.ready.unavailable", extra={"part": name, "code": code})
                checks[name] = "unavailable"
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

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
