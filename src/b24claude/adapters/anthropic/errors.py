"""Anthropic SDK exceptions -> :mod:`b24claude.errors`, plus the facts our retry policy needs.

Status table: reference/anthropic.md §3.2. A mid-stream ``event: error`` arrives as a plain
``APIStatusError`` with ``status_code == 200`` (§2); it is classified by ``error.type``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

import anthropic

from b24claude.errors import (
    LLMError,
    LLMOverloaded,
    LLMRateLimited,
    LLMRequestRejected,
    LLMSpendLimitReached,
    LLMTransientError,
)

# A spend cap resumes at 00:00 UTC on the 1st of next month: retrying inside this request is pointless.
SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})

_TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
_REJECTED_STATUSES = frozenset({400, 401, 403, 404, 413})
_MESSAGE_LIMIT = 300  # API messages are short; the cap keeps an unexpected echo out of our logs


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, classified: the error to raise if we stop, and whether to try again."""

    error: LLMError
    retryable: bool
    retry_after: float | None  # what the server asked for, uncapped; None when it said nothing
    status: int | None = None
    request_id: str | None = None


def classify(exc: anthropic.AnthropicError, *, now: float) -> Failure:
    """Translate an SDK exception; ``now`` (unix seconds) resolves an HTTP-date ``retry-after``."""
    if isinstance(exc, anthropic.APIStatusError):
        return _classify_status(exc, now=now)
    if isinstance(exc, anthropic.APITimeoutError):
        return Failure(LLMTransientError("Claude request timed out", code="timeout"), True, None)
    if isinstance(exc, anthropic.APIConnectionError):
        return Failure(LLMTransientError("cannot reach the Claude API", code="connection_error"), True, None)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return Failure(
            LLMError("Claude answered with an unexpected shape", code="invalid_response"), False, None
        )
    return Failure(LLMError(f"Claude SDK error: {type(exc).__name__}"), False, None)


def _classify_status(exc: anthropic.APIStatusError, *, now: float) -> Failure:
    status = exc.status_code
    error_type = str(exc.type or "") or _body_error_type(exc.body)
    detail = _describe(status, error_type, exc.api_message)
    retry_after = None if status == 200 else retry_after_from(exc.response.headers, now=now)
    error: LLMError
    retryable = False
    if exc.error_code in SPEND_LIMIT_CODES:
        error = LLMSpendLimitReached(detail)
    elif status == 402:
        error = LLMSpendLimitReached(detail, code="billing_error")
    elif status == 429:
        error, retryable = LLMRateLimited(detail), True
    elif status == 529:
        error, retryable = LLMOverloaded(detail), True
    elif status in _TRANSIENT_STATUSES:
        error, retryable = LLMTransientError(detail), True
    elif status == 200:
        error, retryable = _classify_mid_stream(error_type, detail)
    elif status in _REJECTED_STATUSES:
        error = LLMRequestRejected(detail)
    else:
        error = LLMError(detail)
    error.retry_after = retry_after
    return Failure(error, retryable, retry_after, status=status, request_id=exc.request_id)


def _classify_mid_stream(error_type: str, detail: str) -> tuple[LLMError, bool]:
    if error_type == "overloaded_error":
        return LLMOverloaded(detail), True
    if error_type in ("api_error", "timeout_error"):
        return LLMTransientError(detail), True
    if error_type == "rate_limit_error":
        return LLMRateLimited(detail), True
    return LLMError(detail), False


def _body_error_type(body: object) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return str(error.get("type") or "")
    return ""


def _describe(status: int, error_type: str, api_message: str | None) -> str:
    """``"400 invalid_request_error: <API message>"`` — the API's words, never our prompt."""
    message = (api_message or "").strip()
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    head = f"Claude API {status} {error_type or 'error'}"
    return f"{head}: {message}" if message else head


def retry_after_from(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP-date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, float(email.utils.mktime_tz(parsed)) - now)
