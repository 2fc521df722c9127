"""Our errors as HTTP answers: a JSON reason, and the headers that go with the status."""

from __future__ import annotations

import math

from fastapi.responses import JSONResponse

from b24claude.errors import B24ClaudeError, TooManyRequests, Unauthorized


def error_headers(exc: B24ClaudeError, *, bearer: bool = False) -> dict[str, str]:
    """``Retry-After`` for 429 and for a 5xx that knows its wait; ``WWW-Authenticate`` for a 401 of a
    bearer-authenticated route."""
    headers: dict[str, str] = {}
    wait = getattr(exc, "retry_after", None)
    if isinstance(exc, TooManyRequests) or (exc.http_status >= 500 and isinstance(wait, int | float)):
        headers["Retry-After"] = str(max(1, math.ceil(float(wait or 1))))
    if bearer and isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def error_json(exc: B24ClaudeError, *, bearer: bool = False) -> JSONResponse:
    """The JSON answer for an error; anything 5xx becomes 503 without internals."""
    headers = error_headers(exc, bearer=bearer)
    if exc.http_status >= 500:
        return JSONResponse(
            {"error": exc.code, "reason": "temporarily unavailable"}, status_code=503, headers=headers
        )
    body: dict[str, object] = {"error": exc.code, "reason": exc.message}
    fields = getattr(exc, "fields", None)
    if isinstance(fields, dict):
        body["fields"] = fields
    return JSONResponse(body, status_code=exc.http_status, headers=headers)
