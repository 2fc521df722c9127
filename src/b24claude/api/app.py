"""The FastAPI application: Bitrix24 event ingress, health and metrics.

Responses to Bitrix24: 200 once the event is durably stored (or recognised as a duplicate or an
event we ignore); 401 for a wrong or missing application token; 400 with a JSON reason for a
malformed body; 413 for an oversize body. Never a 500 for anything the caller sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from b24claude.errors import B24ClaudeError, BadRequest, PayloadTooLarge
from b24claude.kit import phpform

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

log = logging.getLogger("b24claude.api")


def _error(exc: B24ClaudeError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "reason": exc.message}, status_code=exc.http_status)


async def _read_form(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"body over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"body over {max_bytes} bytes")
    ctype = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" not in ctype:
        raise BadRequest("expected Content-Type application/x-www-form-urlencoded")
    try:
        return phpform.parse_body(bytes(body))
    except phpform.FormError as exc:
        raise BadRequest(f"malformed form body: {exc}") from exc


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
    )
    max_bytes = container.settings.max_body_bytes

    @app.exception_handler(B24ClaudeError)
    async def on_domain_error(_: Request, exc: B24ClaudeError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("request failed", extra={"code": exc.code})
            return JSONResponse({"error": exc.code, "reason": "temporarily unavailable"}, status_code=503)
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "bad_request", "reason": str(exc.errors()[:1])}, status_code=400)

    async def accept(request: Request) -> JSONResponse:
        form = await _read_form(request, max_bytes)
        accepted = await container.inbox_service.accept_classic(form)
        return JSONResponse({"result": accepted.status})

    @app.post("/b24/events", summary="Bitrix24 events (form-encoded): bot events and app lifecycle")
    async def events(request: Request) -> JSONResponse:
        return await accept(request)

    @app.post("/b24/install", summary="Initial installation path: ONAPPINSTALL")
    async def install(request: Request) -> JSONResponse:
        return await accept(request)

    @app.get("/healthz", summary="Liveness and inbox counters")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "inbox": dict(await container.store.inbox.counts())}

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return app
