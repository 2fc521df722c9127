"""One exception tree for the whole product.

Every class says whether the failed operation may be retried and which HTTP status an entry point
should map it to. Adapters translate vendor errors (httpx, anthropic, SQLAlchemy) into these at the
boundary; nothing above the adapters ever sees a vendor exception.
"""

from __future__ import annotations


class B24ClaudeError(Exception):
    """Base of every error the product raises on purpose."""

    retryable: bool = False
    http_status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- input at our edges ---------------------------------------------------------------------------


class BadRequest(B24ClaudeError):
    """Malformed input from outside: answered 400 with a JSON reason."""

    http_status = 400
    code = "bad_request"


class InvalidFields(BadRequest):
    """Input that fails field by field: ``fields`` maps a dotted field name to a reason code
    (``too_long``, ``range``, ``required``, ...) that a page shows next to that field."""

    code = "invalid_fields"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in sorted(fields.items())))
        self.fields = dict(fields)


class Unauthorized(B24ClaudeError):
    """Missing or wrong application/bot token: answered 401."""

    http_status = 401
    code = "unauthorized"


class Forbidden(B24ClaudeError):
    http_status = 403
    code = "forbidden"


class NotFound(B24ClaudeError):
    http_status = 404
    code = "not_found"


class PayloadTooLarge(B24ClaudeError):
    http_status = 413
    code = "payload_too_large"


class TooManyRequests(B24ClaudeError):
    """A caller over its rate limit: answered 429 with ``Retry-After``."""

    http_status = 429
    code = "rate_limited"
    retryable = True

    def __init__(self, message: str = "", *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(B24ClaudeError):
    """We cannot answer now because a service we depend on is down: answered 503, try again later."""

    http_status = 503
    code = "service_unavailable"
    retryable = True


class ConfigurationError(B24ClaudeError):
    """Settings are missing or inconsistent; raised at start-up, never at request time."""

    code = "configuration_error"


# --- external services ----------------------------------------------------------------------------


class ExternalServiceError(B24ClaudeError):
    """An external API failed. ``retry_after`` is the wait the service asked for, if any."""

    http_status = 502
    code = "external_error"

    def __init__(
        self, message: str = "", *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Bitrix24Error(ExternalServiceError):
    """Bitrix24 answered with an error body ``{"error", "error_description"}``."""

    code = "bitrix24_error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, retry_after=retry_after)
        self.status = status


class Bitrix24RateLimited(Bitrix24Error):
    """503 QUERY_LIMIT_EXCEEDED or 429: back off and retry."""

    retryable = True
    code = "QUERY_LIMIT_EXCEEDED"


class Bitrix24OperationLimit(Bitrix24Error):
    """429 OPERATION_TIME_LIMIT: the method is blocked until ``operating_reset_at``."""

    retryable = True
    code = "OPERATION_TIME_LIMIT"


class Bitrix24AuthError(Bitrix24Error):
    """Tokens are invalid and could not be refreshed (``invalid_grant``): the app must be reinstalled."""

    code = "auth_error"


class Bitrix24TokenExpired(Bitrix24AuthError):
    """401 ``expired_token``/``invalid_token`` still there after refreshing: the refresh works, the
    token just expired again meanwhile — retried later, never final."""

    retryable = True
    code = "expired_token"


class Bitrix24TransientError(Bitrix24Error):
    """5xx or a network failure: retryable for reads and for writes guarded by an idempotency check."""

    retryable = True
    code = "transient"


class Bitrix24NotFound(Bitrix24Error):
    code = "not_found"


class LLMError(ExternalServiceError):
    """Claude failed in a way our retry policy could not fix."""

    code = "llm_error"


class LLMRateLimited(LLMError):
    retryable = True
    code = "rate_limited"


class LLMOverloaded(LLMError):
    retryable = True
    code = "overloaded"


class LLMTransientError(LLMError):
    retryable = True
    code = "transient"


class LLMSpendLimitReached(LLMError):
    """A spend cap was hit (``enforced_spend_limit_reached``): retrying is pointless, alert instead."""

    code = "spend_limit"


class LLMUnavailable(LLMError):
    """Every model of the chain failed or is cooling down: answer without Claude, hand to a human."""

    retryable = True
    code = "llm_unavailable"


class LLMRequestRejected(LLMError):
    """400/401/403/404/413 from Claude: a bug or a configuration problem, never retried."""

    code = "request_rejected"


# --- storage ---------------------------------------------------------------------------------------


class StorageError(B24ClaudeError):
    retryable = True
    code = "storage_error"


class PortalNotInstalled(NotFound):
    """No installed portal with this member_id / application token."""

    code = "portal_not_installed"


# --- shared infrastructure (scale-out) ------------------------------------------------------------


class QueueError(B24ClaudeError):
    """The task broker could not be reached or refused a message (the inbox still holds the row)."""

    retryable = True
    http_status = 503
    code = "queue_error"


class CacheError(B24ClaudeError):
    """Redis (cache, rate-limit counters) could not be reached."""

    retryable = True
    http_status = 503
    code = "cache_error"


class EmbeddingError(ExternalServiceError):
    """The embeddings API (Voyage) refused the request: a wrong key, bad input, an unexpected answer."""

    code = "embedding_error"


class EmbeddingUnavailable(EmbeddingError):
    """The embeddings API failed (5xx, unreachable) after our retries: try again later."""

    retryable = True
    code = "embedding_unavailable"


class EmbeddingRateLimited(EmbeddingError):
    """Still 429 after waiting ``retry_after`` as asked: try again later."""

    retryable = True
    code = "embedding_rate_limited"
