"""``create_portal_app(state)``: the FastAPI app serving REST, the OAuth server and ``/_sandbox``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from b24claude.kit import phpform

from . import disk, rest
from .auth import oauth_token
from .control import build_router
from .state import PortalState
from .ui import build_ui_router


def create_portal_app(state: PortalState | None = None) -> FastAPI:
    portal = state or PortalState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await portal.aclose()

    app = FastAPI(
        title="Bitrix24 portal emulator", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.portal = portal

    async def token(request: Request) -> JSONResponse:
        if portal.seen_base_url is None:
            portal.seen_base_url = str(request.base_url).rstrip("/")
        portal.stats.oauth_urls.append(str(request.url))
        if "client_secret" in request.query_params:
            portal.stats.oauth_secret_in_query += 1
        params = phpform.parse(request.query_params.multi_items())
        body = await request.body()
        if body:
            try:
                params.update(phpform.parse_body(body))
            except phpform.FormError:
                return JSONResponse({"error": "invalid_request", "error_description": "Malformed body"}, 400)
        owner = portal.oauth_owner(str(params.get("refresh_token") or ""))
        status, payload = oauth_token(owner, params)
        return JSONResponse(payload, status_code=status)

    async def webhook_call(request: Request, user_id: str, code: str, method: str) -> JSONResponse:
        return await rest.handle(portal, request, method, webhook=(user_id, code))

    async def oauth_call(request: Request, method: str) -> JSONResponse:
        return await rest.handle(portal, request, method)

    async def disk_download(request: Request) -> Response:
        status, payload, name = disk.download(portal, dict(request.query_params))
        if isinstance(payload, dict):
            return JSONResponse(payload, status_code=status)
        disposition = f"attachment; filename*=utf-8''{quote(name)}"
        return Response(
            payload, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
        )

    # Before /rest/{method}: Disk's DOWNLOAD_URL, on the portal's own host (sandbox/portal/disk.py).
    app.add_api_route("/rest/download.json", disk_download, methods=["GET"])
    app.add_api_route("/oauth/token/", token, methods=["GET", "POST"])
    app.add_api_route("/oauth/token", token, methods=["GET", "POST"])
    app.add_api_route("/rest/{user_id}/{code}/{method}", webhook_call, methods=["GET", "POST"])
    app.add_api_route("/rest/{method}", oauth_call, methods=["GET", "POST"])
    app.include_router(build_router(portal))
    app.include_router(build_ui_router(portal))
    return app
