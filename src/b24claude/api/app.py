"""The FastAPI application: Bitrix24 event ingress, the app's pages, health and metrics.

Every request leaves one ``http.request`` access-log line; every rejected event delivery one
``b24.event.rejected`` line with its reason (``api/access_log.py``).

Responses to Bitrix24: 200 once the event is durably stored (or recognised as a duplicate or an
event we ignore); 401 for a wrong or missing application token; 400 with a JSON reason for a
malformed body or a replayed (too old) event; 413 for an oversize body; 429 with ``Retry-After``
when a portal sends more than its ingress allowance. Never a 500 for anything the caller sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from b24claude.api.access_log import AccessLogMiddleware, claimed_member_id, log_rejected_event, note_portal
from b24claude.api.app_pages import build_app_router, installer_page
from b24claude.api.forms import FORM, read_form
from b24claude.api.health import build_health_router
from b24claude.api.responses import error_json
from b24claude.errors import B24ClaudeError

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

log = logging.getLogger("b24claude.api")


def _field(description: str, max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description}
    if max_length:
        schema["maxLength"] = max_length
    return schema


# The wire form of a classic event (reference/bitrix24.md §2.2): PHP bracket keys, string values.
# Described field by field so that the OpenAPI (and the fuzzer reading it) speaks the real shape.
EVENT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["event", "auth[member_id]", "auth[application_token]"],
                    "properties": {
                        "event": _field("ONIMBOTMESSAGEADD, ONAPPINSTALL, …", 128),
                        "event_handler_id": _field("Handler id"),
                        "ts": _field("Unix time the portal sent the event at"),
                        "auth[member_id]": _field("Portal id", 64),
                        "auth[application_token]": _field("Secret saved at install", 128),
                        "auth[domain]": _field("Portal domain", 255),
                        "auth[access_token]": _field("OAuth access token"),
                        "auth[refresh_token]": _field("OAuth refresh token"),
                        "auth[expires_in]": _field("Seconds"),
                        "auth[client_endpoint]": _field("https://<portal>/rest/"),
                        "auth[server_endpoint]": _field("OAuth server"),
                        "data[PARAMS][MESSAGE_ID]": _field("Message id"),
                        "data[PARAMS][DIALOG_ID]": _field("Dialog id"),
                        "data[PARAMS][MESSAGE]": _field("Message text"),
                        "data[PARAMS][CHAT_ENTITY_TYPE]": _field("LINES for Open Lines"),
                        "data[USER][IS_CONNECTOR]": _field("Y/N"),
                        "data[LANGUAGE_ID]": _field("Install language"),
                    },
                }
            }
        },
    },
    "responses": {
        "400": {"description": "Malformed or replayed event"},
        "401": {"description": "Wrong or missing application token"},
        "413": {"description": "Body too large"},
        "429": {"description": "Portal over its ingress rate; see Retry-After"},
    },
}


def create_app(container: Container, *, run_background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_background:
            await container.start()
        try:
            yield
        finally:
            if run_background:
                await container.stop()

    app = FastAPI(
        title="b24claude",
        version="0.1.0",
        description="Claude for Bitrix24: event ingress for the portal application.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN (blank pages offline, a third-party
        # host in the admin's browser): off. The schema itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(AccessLogMiddleware)
    max_bytes = container.settings.max_body_bytes

    @app.exception_handler(B24ClaudeError)
    async def on_domain_error(request: Request, exc: B24ClaudeError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("http.request.failed", extra={"code": exc.code})
        return error_json(exc, bearer=request.url.path.startswith(("/app/api/", "/healthz/")))

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "bad_request", "reason": str(exc.errors()[:1])}, status_code=400)

    async def accept(request: Request, form: dict[str, Any] | None = None) -> JSONResponse:
        try:
            if form is None:
                form = await read_form(request, max_bytes)
            accepted = await container.inbox_service.accept_classic(form)
        except B24ClaudeError as exc:
            if 400 <= exc.http_status < 500:
                log_rejected_event(
                    request, status=exc.http_status, code=exc.code, reason=exc.message, form=form
                )
            raise
        member_id = claimed_member_id(form)  # verified now: the token matched (or this was the install)
        if member_id:
            note_portal(request, member_id)
        return JSONResponse({"result": accepted.status})

    @app.post(
        "/b24/events",
        summary="Bitrix24 events (form-encoded): bot events and app lifecycle",
        openapi_extra=EVENT_OPENAPI,
    )
    async def events(request: Request) -> JSONResponse:
        return await accept(request)

    @app.post(
        "/b24/install",
        summary="Initial installation path: ONAPPINSTALL (server-side app) or the installer frame (app with UI)",
        openapi_extra=EVENT_OPENAPI,
        response_model=None,
    )
    async def install(request: Request) -> Response:
        # An API-only app gets the ONAPPINSTALL event here; an app with an interface opens this
        # path in a frame for the admin (a frame POST: AUTH_ID, REFRESH_ID, no ``event``).
        try:
            form = await read_form(request, max_bytes)
        except B24ClaudeError as exc:
            log_rejected_event(request, status=exc.http_status, code=exc.code, reason=exc.message, form=None)
            raise
        if "event" not in form and "AUTH_ID" in form:
            return await installer_page(container, request, form)
        return await accept(request, form)

    app.include_router(build_app_router(container))

    app.include_router(build_health_router(container))

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return app
