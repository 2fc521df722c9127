"""Everything the Claude emulator knows and can be told: knobs, recorded requests, faults, caches, limits.

One `ClaudeState` per emulator instance; no globals. Tests drive it directly from Python, or over HTTP
through the `/_sandbox/...` routes (see app.py), which call the same methods.
"""

from __future__ import annotations

import math
import random
import string
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .tokens import PromptCache

FaultKind = Literal["http", "stream_error", "delay"]
DEFAULT_KEY = "sk-ant-sandbox"
DEFAULT_ORGANIZATION = "3f1c7a52-6b0e-4d3a-9d35-b24c1a0de5a1"

_DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    "invalid_request_error": "Injected invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "conflict_error": "Conflict",
    "request_too_large": "Request too large",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}


def default_error_type(status: int) -> str:
    return _DEFAULT_ERROR_TYPES.get(status, "api_error")


def default_message(error_type: str) -> str:
    return _DEFAULT_MESSAGES.get(error_type, "Error")


@dataclass(slots=True)
class Fault:
    """One queued misbehaviour. `count` responses are affected; `model`/`path` narrow which ones."""

    kind: FaultKind = "http"
    status: int = 500
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] | None = None
    should_retry: bool | None = None  # sent as `x-should-retry`
    after_deltas: int = 2  # stream_error: how many content deltas go out before the error event
    delay: float = 0.0  # seconds to wait before answering (every kind)
    model: str | None = None
    path: str | None = "/v1/messages"  # None: any /v1 route
    count: int = 1

    def matches(self, path: str, model: str | None, *, streaming: bool) -> bool:
        if self.kind == "stream_error" and not streaming:
            return False
        if self.path is not None and self.path != path:
            return False
        return self.model is None or self.model == model

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RateLimits:
    """Per-minute limits of one model class (reference §8 'Build'-like defaults)."""

    requests: int = 4_000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000


@dataclass(slots=True)
class _Bucket:
    """A token bucket refilled continuously over one minute."""

    capacity: float
    level: float
    stamp: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.level = min(self.capacity, self.level + elapsed * self.capacity / 60.0)
        self.stamp = now

    def seconds_until(self, amount: float) -> float:
        missing = max(0.0, min(amount, self.capacity) - self.level)
        return missing * 60.0 / self.capacity if self.capacity else 0.0


@dataclass(slots=True)
class RecordedRequest:
    """What the emulator received (auth secrets redacted) and how it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    timestamp: float
    request_id: str
    status: int | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "cookie"})
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class ClaudeState:
    """Configuration knobs and runtime state of one Claude API emulator."""

    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_KEY})
    accept_any_key: bool = False
    clock: Callable[[], float] = time.time
    latency: float = 0.0  # seconds before every /v1 response starts
    stream_event_delay: float = 0.0  # seconds between SSE events
    chars_per_token: float = 4.0
    organization_id: str = DEFAULT_ORGANIZATION
    max_body_bytes: int = 32 * 1024 * 1024
    max_recorded: int = 10_000
    rate_limits: RateLimits = field(default_factory=RateLimits)
    enforce_rate_limits: bool = False  # True: an empty bucket answers 429 like the real API
    emit_thinking: bool = False  # True: adaptive-thinking models start replies with a thinking block
    naive: bool = False  # True: the brain obeys instructions injected into its prompt (naive.py)
    strict_fields: bool = True  # False: unknown top-level body fields are tolerated
    seed: int | None = None  # ids (req_/msg_/toolu_) are random; set a seed to make them repeatable
    scripted: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Bad hours: every /v1/messages request fails with `outage_status` until `outage_until` (by the
    # emulator's clock); `chaos` makes a share of requests fail at random (seeded, repeatable).
    outage_until: float = 0.0
    outage_status: int = 529
    chaos: dict[str, float] = field(default_factory=dict)  # {"overloaded": 0.3, "timeout": 0.1, ...}
    chaos_timeout_s: float = 30.0  # how long a "timeout" request hangs before it is answered
    chaos_seed: int = 7
    cache: PromptCache = field(default_factory=PromptCache)
    clock_offset: float = 0.0
    _requests: deque[RecordedRequest] = field(init=False, repr=False)
    _buckets: dict[str, dict[str, _Bucket]] = field(init=False, repr=False, default_factory=dict)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._requests = deque(maxlen=self.max_recorded)
        self._random = random.Random(self.seed)
        self._chaos_random = random.Random(self.chaos_seed)

    # --- time and ids -------------------------------------------------------------------------------
    def now(self) -> float:
        """The emulator's clock: the injected clock plus `advance()`d seconds."""
        return self.clock() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (cache TTLs, rate-limit refill) without sleeping."""
        self.clock_offset += seconds

    def new_id(self, prefix: str, length: int = 22) -> str:
        return prefix + "".join(self._random.choice(_ALPHABET) for _ in range(length))

    # --- auth ---------------------------------------------------------------------------------------
    def key_valid(self, key: str) -> bool:
        return bool(key) and (self.accept_any_key or key in self.api_keys)

    # --- recording ----------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (the last `max_recorded` only)."""
        return list(self._requests)

    def record(
        self,
        *,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        request_id: str,
    ) -> RecordedRequest:
        safe = {k.lower(): ("[redacted]" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}
        entry = RecordedRequest(method, path, query, safe, body, self.now(), request_id)
        self._requests.append(entry)
        return entry

    def clear_requests(self) -> None:
        self._requests.clear()

    # --- scripted replies ---------------------------------------------------------------------------
    def script(self, match: str, reply: str) -> None:
        """When the last user message contains `match` (case-insensitive), answer `reply` verbatim."""
        self.scripted.append((match, reply))

    # --- faults -------------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        error_type: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
        should_retry: bool | None = None,
        delay: float = 0.0,
        model: str | None = None,
        path: str | None = "/v1/messages",
    ) -> Fault:
        """Answer the next `count` matching requests with an HTTP error."""
        return self.inject(
            Fault(
                "http",
                status,
                error_type,
                message,
                retry_after,
                details,
                should_retry,
                delay=delay,
                model=model,
                path=path,
                count=count,
            )
        )

    def rate_limit_next(self, *, count: int = 1, retry_after: float = 1, model: str | None = None) -> Fault:
        return self.fail_next(429, count=count, retry_after=retry_after, model=model)

    def spend_cap_next(self, *, count: int = 1, model: str | None = None) -> Fault:
        """429 for the monthly usage-tier spend cap: `error_code`, and no `retry-after` (reference §3.2)."""
        return self.fail_next(
            429,
            count=count,
            model=model,
            message="You have reached your organization's monthly usage limit. Access resumes at 00:00 UTC "
            "on the 1st of next month.",
            details={"error_code": "enforced_spend_limit_reached"},
        )

    def overload_next(
        self, *, count: int = 1, model: str | None = None, retry_after: float | None = None
    ) -> Fault:
        return self.fail_next(529, count=count, model=model, retry_after=retry_after)

    def server_error_next(self, *, count: int = 1, model: str | None = None) -> Fault:
        return self.fail_next(500, count=count, model=model)

    def unavailable_next(self, *, count: int = 1, model: str | None = None) -> Fault:
        return self.fail_next(503, count=count, model=model, message="Service unavailable")

    def bad_request_next(
        self, message: str = "Injected invalid request", *, count: int = 1, model: str | None = None
    ) -> Fault:
        return self.fail_next(400, count=count, model=model, message=message)

    def break_stream_next(
        self,
        *,
        after_deltas: int = 2,
        error_type: str = "overloaded_error",
        message: str | None = None,
        count: int = 1,
        model: str | None = None,
    ) -> Fault:
        """Cut the next streamed reply with `event: error` after `after_deltas` content deltas."""
        return self.inject(
            Fault(
                "stream_error", 200, error_type, message, after_deltas=after_deltas, model=model, count=count
            )
        )

    def slow_next(
        self, delay: float, *, count: int = 1, model: str | None = None, path: str | None = "/v1/messages"
    ) -> Fault:
        """Delay the next `count` responses by `delay` seconds, then answer normally."""
        return self.inject(Fault("delay", 200, delay=delay, model=model, path=path, count=count))

    def down_for(self, seconds: float, *, status: int = 529) -> None:
        """An outage: every message request fails with `status` for the next `seconds`."""
        self.outage_until = self.now() + seconds
        self.outage_status = status

    def take_fault(self, path: str, model: str | None, *, streaming: bool) -> Fault | None:
        """Pop one use of the first fault that matches this request (queued faults first, then an
        outage, then chaos)."""
        for index, fault in enumerate(self.faults):
            if fault.matches(path, model, streaming=streaming):
                fault.count -= 1
                if fault.count <= 0:
                    del self.faults[index]
                return fault
        if path != "/v1/messages":
            return None
        if self.now() < self.outage_until:
            return Fault("http", self.outage_status, model=model)
        return self._chaos_fault(model)

    def _chaos_fault(self, model: str | None) -> Fault | None:
        draw = self._chaos_random.random()
        for kind, share in sorted(self.chaos.items()):
            if draw < share:
                if kind == "timeout":
                    return Fault("delay", 200, delay=self.chaos_timeout_s, model=model)
                status = {"overloaded": 529, "rate_limited": 429, "server_error": 500}.get(kind, 500)
                return Fault("http", status, model=model)
            draw -= share
        return None

    # --- rate limits --------------------------------------------------------------------------------
    def reset_rate_limits(self) -> None:
        """Refill every bucket (call after changing `rate_limits`)."""
        self._buckets.clear()

    def _pool(self, pool: str) -> dict[str, _Bucket]:
        if pool not in self._buckets:
            now = self.now()
            limits = self.rate_limits
            self._buckets[pool] = {
                name: _Bucket(float(cap), float(cap), now)
                for name, cap in (
                    ("requests", limits.requests),
                    ("input-tokens", limits.input_tokens),
                    ("output-tokens", limits.output_tokens),
                )
            }
        buckets = self._buckets[pool]
        for bucket in buckets.values():
            bucket.refill(self.now())
        return buckets

    def rate_limit_wait(self, pool: str, *, input_tokens: int, output_tokens: int) -> float:
        """Seconds until this request would fit; 0 when it fits now."""
        buckets = self._pool(pool)
        return max(
            buckets["requests"].seconds_until(1),
            buckets["input-tokens"].seconds_until(input_tokens),
            buckets["output-tokens"].seconds_until(output_tokens),
        )

    def charge(self, pool: str, *, requests: int = 0, input_tokens: int = 0, output_tokens: int = 0) -> None:
        """Take from (or, with negative amounts, give back to) the buckets of a model class."""
        buckets = self._pool(pool)
        for name, amount in (
            ("requests", requests),
            ("input-tokens", input_tokens),
            ("output-tokens", output_tokens),
        ):
            bucket = buckets[name]
            bucket.level = min(bucket.capacity, bucket.level - amount)

    def rate_limit_headers(self, pool: str) -> dict[str, str]:
        """`anthropic-ratelimit-*` headers; token 'remaining' values rounded down to a thousand."""
        buckets = self._pool(pool)
        headers: dict[str, str] = {}

        def put(name: str, bucket: _Bucket, *, rounded: bool) -> None:
            remaining = max(0, math.floor(bucket.level))
            if rounded and remaining >= 1000:
                remaining -= remaining % 1000
            headers[f"anthropic-ratelimit-{name}-limit"] = str(int(bucket.capacity))
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{name}-reset"] = self._rfc3339(
                self.now() + bucket.seconds_until(bucket.capacity)
            )

        put("requests", buckets["requests"], rounded=False)
        tightest = min(
            (buckets["input-tokens"], buckets["output-tokens"]), key=lambda b: b.level / b.capacity
        )
        put("tokens", tightest, rounded=True)
        put("input-tokens", buckets["input-tokens"], rounded=True)
        put("output-tokens", buckets["output-tokens"], rounded=True)
        return headers

    @staticmethod
    def _rfc3339(moment: float) -> str:
        return datetime.fromtimestamp(math.ceil(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # --- reset --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget runtime state (requests, faults, cache, buckets, scripts, clock offset); keep config."""
        self._requests.clear()
        self.faults.clear()
        self.cache.clear()
        self.reset_rate_limits()
        self.scripted.clear()
        self.clock_offset = 0.0
        self.outage_until = 0.0
        self._random = random.Random(self.seed)
        self._chaos_random = random.Random(self.chaos_seed)
