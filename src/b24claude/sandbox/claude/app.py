"""The Claude API emulator as a FastAPI app: `/v1/messages` (JSON and SSE), count_tokens, models.

Every /v1 request is recorded, then checked in the real API's order as far as it is known: body size
(413) → auth (401) → `anthropic-version` (400) → injected faults → body validation (400/404) → rate
limits (429, when enforced) → answer. Every response carries `request-id`, `anthropic-organization-id`
and the `anthropic-ratelimit-*` headers; errors use the `{"type":"error",...}` body (reference §3).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..server import ServerHandle, serve_app
from .brain import Brain
from .control import add_control_routes
from .models import find_model, model_info, ordered_models
from .reply import build_message
from .sse import encode_error, message_events
from .state import ClaudeState, Fault, RecordedRequest, default_error_type, default_message
from .tokens import count_input_tokens, render_segments
from .validation import ApiError, check_version, invalid, validate_body

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Exchange:
    """One request in flight: its id, its record, the rate-limit pool and any stream fault."""

    request_id: str
    record: RecordedRequest
    version: str = ""
    body: Any = None
    pool: str = "default"
    stream_fault: Fault | None = None


Handler = Callable[[ClaudeState, Request, _Exchange], Awaitable[Response]]


def _common_headers(state: ClaudeState, exchange: _Exchange) -> dict[str, str]:
    return {
        "request-id": exchange.request_id,
        "anthropic-organization-id": state.organization_id,
        **state.rate_limit_headers(exchange.pool),
    }


def _error_response(state: ClaudeState, exchange: _Exchange, exc: ApiError) -> JSONResponse:
    error: dict[str, Any] = {"type": exc.error_type, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    body = {"type": "error", "error": error, "request_id": exchange.request_id}
    headers = {**_common_headers(state, exchange), **exc.headers}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _fault_error(fault: Fault) -> ApiError:
    error_type = fault.error_type or default_error_type(fault.status)
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        value = fault.retry_after
        headers["retry-after"] = str(int(value)) if float(value).is_integer() else str(value)
    if fault.should_retry is not None:
        headers["x-should-retry"] = "true" if fault.should_retry else "false"
    return ApiError(
        fault.status,
        error_type,
        fault.message or default_message(error_type),
        details=fault.details,
        headers=headers,
    )


def _authenticate(state: ClaudeState, request: Request) -> None:
    """`x-api-key` wins when both headers are present (reference §0.2)."""
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        if not state.key_valid(api_key):
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        return
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if not authorization:
        raise ApiError(
            401, "authentication_error", "x-api-key header or Authorization: Bearer token is required"
        )
    if scheme.lower() != "bearer" or not state.key_valid(token.strip()):
        raise ApiError(401, "authentication_error", "Invalid bearer token")


def _pool_for(body: Any) -> str:
    model = body.get("model") if isinstance(body, dict) else None
    spec = find_model(model) if isinstance(model, str) else None
    return spec.line if spec is not None else "default"


async def _exchange(state: ClaudeState, request: Request, handler: Handler) -> Response:
    request_id = state.new_id("req_011C", 20)
    declared = request.headers.get("content-length", "0")
    too_large = declared.isdigit() and int(declared) > state.max_body_bytes
    raw = b"" if too_large else await request.body()
    too_large = too_large or len(raw) > state.max_body_bytes
    body: Any = None
    parsed_ok = True
    if raw and not too_large:
        try:
            body = json.loads(raw)
        except ValueError:
            parsed_ok = False
    record = state.record(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
        request_id=request_id,
    )
    exchange = _Exchange(request_id, record, body=body, pool=_pool_for(body))
    try:
        if too_large:
            raise ApiError(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")
        _authenticate(state, request)
        exchange.version = check_version(request.headers.get("anthropic-version"))
        if not parsed_ok:
            raise invalid("There was an error parsing the body of your request: invalid JSON")
        await _apply_faults(state, request, exchange)
        response = await handler(state, request, exchange)
    except ApiError as exc:
        response = _error_response(state, exchange, exc)
    except Exception:  # never a bare 500 page: the API's own error shape
        log.exception("sandbox.claude.crashed", extra={"path": request.url.path})
        response = _error_response(state, exchange, ApiError(500, "api_error", "Internal server error"))
    exchange.record.status = response.status_code
    return response


async def _apply_faults(state: ClaudeState, request: Request, exchange: _Exchange) -> None:
    body = exchange.body if isinstance(exchange.body, dict) else {}
    model = body.get("model") if isinstance(body.get("model"), str) else None
    streaming = request.url.path == "/v1/messages" and body.get("stream") is True
    fault = state.take_fault(request.url.path, model, streaming=streaming)
    delay = state.latency + (fault.delay if fault else 0.0)
    if delay > 0:
        await asyncio.sleep(delay)
    if fault is None or fault.kind == "delay":
        return
    if fault.kind == "stream_error":
        exchange.stream_fault = fault
        return
    raise _fault_error(fault)


async def _messages(state: ClaudeState, request: Request, exchange: _Exchange) -> Response:
    body = exchange.body
    spec = validate_body(body, version=exchange.version, strict=state.strict_fields)
    exchange.pool = spec.line
    segments = render_segments(body, state.chars_per_token)
    max_tokens = int(body["max_tokens"])
    if state.enforce_rate_limits:
        total = sum(segment.tokens for segment in segments)
        wait = state.rate_limit_wait(spec.line, input_tokens=total, output_tokens=max_tokens)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limit_error",
                f"This request would exceed the rate limit for your organization "
                f"({state.organization_id}) of {spec.line} model requests or tokens per minute.",
                headers={"retry-after": str(max(1, math.ceil(wait)))},
            )
    usage = state.cache.account(spec.id, segments, min_tokens=spec.cache_min_tokens, now=state.now())
    # OTPM is charged up front from max_tokens, then corrected (reference §3.3).
    state.charge(
        spec.line, requests=1, input_tokens=usage.input_tokens + usage.creation, output_tokens=max_tokens
    )
    today = datetime.fromtimestamp(state.now(), UTC).date().isoformat()
    decision = Brain(
        scripted=state.scripted, today=today, emit_thinking=state.emit_thinking, naive=state.naive
    ).decide(body)
    message = build_message(
        body,
        spec,
        decision,
        usage,
        message_id=state.new_id("msg_01"),
        new_tool_id=lambda: state.new_id("toolu_01"),
        chars_per_token=state.chars_per_token,
    )
    state.charge(spec.line, output_tokens=message["usage"]["output_tokens"] - max_tokens)
    headers = _common_headers(state, exchange)
    if body.get("stream"):
        headers["cache-control"] = "no-cache"
        return StreamingResponse(
            _stream(state, message, exchange), media_type="text/event-stream", headers=headers
        )
    return JSONResponse(message, headers=headers)


async def _stream(state: ClaudeState, message: dict[str, Any], exchange: _Exchange) -> AsyncIterator[bytes]:
    fault = exchange.stream_fault
    deltas = 0
    for event in message_events(message):
        if fault is not None and (
            event.name == "message_delta" or (event.is_content_delta and deltas >= fault.after_deltas)
        ):
            error_type = fault.error_type or "overloaded_error"
            yield encode_error(error_type, fault.message or default_message(error_type), exchange.request_id)
            return
        yield event.encode()
        deltas += 1 if event.is_content_delta else 0
        if state.stream_event_delay > 0:
            await asyncio.sleep(state.stream_event_delay)


async def _count_tokens(state: ClaudeState, request: Request, exchange: _Exchange) -> Response:
    spec = validate_body(exchange.body, version=exchange.version, for_count=True, strict=state.strict_fields)
    exchange.pool = spec.line
    state.charge(spec.line, requests=1)
    count = count_input_tokens(exchange.body, state.chars_per_token)
    return JSONResponse({"input_tokens": count}, headers=_common_headers(state, exchange))


async def _list_models(state: ClaudeState, request: Request, exchange: _Exchange) -> Response:
    query = request.query_params
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise invalid("limit: Input should be an integer between 1 and 1000")
    limit = int(raw_limit)
    wanted = set(query.getlist("lifecycle[]") + query.getlist("lifecycle")) or {"active", "deprecated"}
    items = [spec for spec in ordered_models() if spec.lifecycle in wanted]
    ids = [spec.id for spec in items]
    if query.get("after_id"):
        start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else len(ids)
        page, has_more = items[start : start + limit], start + limit < len(items)
    elif query.get("before_id"):
        end = ids.index(query["before_id"]) if query["before_id"] in ids else 0
        page, has_more = items[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = items[:limit], limit < len(items)
    data = [model_info(spec) for spec in page]
    body = {
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
    return JSONResponse(body, headers=_common_headers(state, exchange))


async def _get_model(state: ClaudeState, request: Request, exchange: _Exchange) -> Response:
    model_id = request.path_params["model_id"]
    spec = find_model(model_id)
    if spec is None:
        raise ApiError(404, "not_found_error", f"model: {model_id}")
    return JSONResponse(model_info(spec), headers=_common_headers(state, exchange))


async def _not_found(state: ClaudeState, request: Request, exchange: _Exchange) -> Response:
    raise ApiError(404, "not_found_error", "Not Found")


def create_claude_app(state: ClaudeState | None = None) -> FastAPI:
    """A fresh emulator app bound to `state` (a default ClaudeState when omitted). Cheap: no I/O."""
    state = state if state is not None else ClaudeState()
    app = FastAPI(
        title="Claude API emulator (b24claude sandbox)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.claude = state

    def route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _exchange(state, request, handler)

        return endpoint

    app.add_api_route("/v1/messages", route(_messages), methods=["POST"])
    app.add_api_route("/v1/messages/count_tokens", route(_count_tokens), methods=["POST"])
    app.add_api_route("/v1/models", route(_list_models), methods=["GET"])
    app.add_api_route("/v1/models/{model_id}", route(_get_model), methods=["GET"])
    app.add_api_route("/v1/{rest:path}", route(_not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    add_control_routes(app, state)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error_type = default_error_type(exc.status_code)
        body = {
            "type": "error",
            "error": {"type": error_type, "message": str(exc.detail)},
            "request_id": state.new_id("req_011C", 20),
        }
        return JSONResponse(body, status_code=exc.status_code)

    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory b24claude.sandbox.claude.app:app_factory`: a default-configured emulator."""
    return create_claude_app(ClaudeState())


async def serve_claude(
    state: ClaudeState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> ServerHandle:
    """Start an emulator on a real socket (port 0: any free one); `handle.base_url`, `await handle.stop()`."""
    return await serve_app(create_claude_app(state), host=host, port=port)
