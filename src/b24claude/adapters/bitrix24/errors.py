"""Bitrix24 error bodies and statuses → :mod:`b24claude.errors` (reference/bitrix24.md §1.3, §3.4).

Bitrix24 answers ``{"error": "CODE", "error_description": "text"}``; clients key on ``error`` and
never on the text — with one exception: legacy ``crm.*.get`` answers an unknown id with an *empty*
code and the text "Not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24claude.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24NotFound,
    Bitrix24OperationLimit,
    Bitrix24RateLimited,
    Bitrix24TokenExpired,
    Bitrix24TransientError,
)

QUERY_LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
OPERATION_TIME_LIMIT = "OPERATION_TIME_LIMIT"
EXPIRED_TOKEN = "expired_token"
INVALID_TOKEN = "invalid_token"

# 401s a token refresh can cure; anything else at 401 (NO_AUTH_FOUND: bad webhook) cannot.
REFRESHABLE = frozenset({EXPIRED_TOKEN, INVALID_TOKEN})

_NOT_FOUND = frozenset({"NOT_FOUND", "ERROR_NOT_FOUND", "ERROR_ENTITY_NOT_FOUND", "BOT_NOT_FOUND"})
_AUTH = frozenset(
    {
        EXPIRED_TOKEN,
        INVALID_TOKEN,
        "NO_AUTH_FOUND",
        "invalid_grant",
        "invalid_client",
        "invalid_request",
        "PAYMENT_REQUIRED",
        "PORTAL_DELETED",
    }
)
_TRANSIENT = frozenset({"INTERNAL_SERVER_ERROR", "BAD_GATEWAY", "SERVICE_UNAVAILABLE"})


def error_fields(body: Any) -> tuple[str, str] | None:
    """``(code, description)`` when ``body`` is a Bitrix24 error body, else ``None``."""
    if isinstance(body, Mapping) and "error" in body and "result" not in body:
        code = body.get("error")
        description = body.get("error_description")
        return (str(code) if code is not None else "", str(description) if description is not None else "")
    return None


def map_error(
    code: str,
    description: str = "",
    *,
    status: int | None = None,
    retry_after: float | None = None,
) -> Bitrix24Error:
    """The exception for one error code; ``status`` is the HTTP status (``None`` inside a batch)."""
    message = f"{code or 'error'}: {description}" if description else (code or "error")
    kwargs: dict[str, Any] = {"code": code, "status": status, "retry_after": retry_after}
    if code == QUERY_LIMIT_EXCEEDED or (status == 429 and code != OPERATION_TIME_LIMIT):
        return Bitrix24RateLimited(message, **kwargs)
    if code == OPERATION_TIME_LIMIT:
        return Bitrix24OperationLimit(message, **kwargs)
    if code in _NOT_FOUND or (code == "" and description.strip().lower().startswith("not found")):
        return Bitrix24NotFound(message, **kwargs)
    if code in REFRESHABLE:
        return Bitrix24TokenExpired(message, **kwargs)
    if code in _AUTH:
        return Bitrix24AuthError(message, **kwargs)
    # OVERLOAD_LIMIT (503) is a manual block by Bitrix24 support: retrying does not help, alert humans.
    if code in _TRANSIENT or (status is not None and status >= 500 and code != "OVERLOAD_LIMIT"):
        return Bitrix24TransientError(message, **kwargs)
    return Bitrix24Error(message, **kwargs)


def map_response(status: int, body: Any) -> Bitrix24Error:
    """The exception for a failed HTTP response (any non-success status or an error body)."""
    fields = error_fields(body)
    if fields is None:
        code = "INTERNAL_SERVER_ERROR" if status >= 500 else "ERROR_UNEXPECTED_ANSWER"
        return map_error(code, f"HTTP {status} without an error body", status=status)
    return map_error(*fields, status=status)


def map_oauth_error(status: int, body: Any) -> Bitrix24Error:
    """Failures of ``/oauth/token/``: 5xx may pass, anything else means the app must be re-authorised."""
    fields = error_fields(body) or ("", "")
    code, description = fields
    if status >= 500:
        return Bitrix24TransientError(f"oauth: {code or status}", code=code or "transient", status=status)
    return Bitrix24AuthError(
        f"oauth refresh failed: {code or status}{': ' + description if description else ''}",
        code=code or "auth_error",
        status=status,
    )
