"""Client-side limits towards Claude: requests and input tokens per minute per model, with a fair
share per portal, shared by every process of a deployment (Redis) or kept in this one (memory).

Anthropic limits each organisation per model class in requests (RPM) and input/output tokens
(ITPM/OTPM) per minute; exceeding one answers 429 with ``retry-after`` (reference/anthropic.md
§3, §6). Never hard-code tier numbers: a limit configured here wins, otherwise the
``anthropic-ratelimit-*-limit`` headers teach it; ``*-remaining`` at 0 blocks the model until its
``*-reset``, and a 429's ``retry-after`` blocks it until then, for every process at once.

Before each request the caller takes one request and its estimated input tokens from the model's
current one-minute window. When the window is spent, the model blocked, or the portal past its
share (the window's budget divided by the portals that used the model in it, so one busy portal
cannot starve the others), it waits for the next window, for at most ``max_wait_s``; then the call
fails as rate-limited (retryable: the inbox schedules the row again, the fallback chain may try
another model). Fixed windows admit a burst at a window's edge; Anthropic's own bucket refills
continuously, and its 429 (with ``retry-after``) is the backstop that keeps us honest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from b24claude.errors import CacheError, LLMRateLimited
from b24claude.kit.clock import Clock

log = logging.getLogger("b24claude.claude.limits")

WINDOW_S = 60.0
WINDOW = "window"  # a backend's answer: this window is spent, wait for the next


class LimitCounters(Protocol):
    """Where the windows live: this process (memory) or Redis (every process)."""

    async def take(
        self, model: str, window: int, *, member_id: str, tokens: int, rpm: int, tpm: int, now: float
    ) -> float | str:
        """0.0: taken; seconds: the model is blocked that long; ``WINDOW``: wait for the next."""
        ...

    async def adjust(self, model: str, window: int, *, tokens: int) -> None:
        """Correct the window's token count by ``tokens`` (actual minus estimated)."""
        ...

    async def block(self, model: str, until: float) -> None:
        """No request to ``model`` before ``until`` (wall clock), whoever asks."""
        ...


@dataclass
class _Window:
    requests: int = 0
    tokens: int = 0
    portals: dict[str, int] = field(default_factory=dict)


class MemoryLimitCounters:
    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], _Window] = {}
        self._blocked: dict[str, float] = {}

    async def take(
        self, model: str, window: int, *, member_id: str, tokens: int, rpm: int, tpm: int, now: float
    ) -> float | str:
        blocked = self._blocked.get(model, 0.0)
        if blocked > now:
            return blocked - now
        for key in [k for k in self._windows if k[0] == model and k[1] < window]:
            del self._windows[key]
        w = self._windows.setdefault((model, window), _Window())
        if over(w.requests, w.tokens, w.portals, member_id=member_id, tokens=tokens, rpm=rpm, tpm=tpm):
            return WINDOW
        w.requests += 1
        w.tokens += tokens
        w.portals[member_id] = w.portals.get(member_id, 0) + 1
        return 0.0

    async def adjust(self, model: str, window: int, *, tokens: int) -> None:
        w = self._windows.get((model, window))
        if w is not None:
            w.tokens = max(0, w.tokens + tokens)

    async def block(self, model: str, until: float) -> None:
        self._blocked[model] = max(self._blocked.get(model, 0.0), until)


def over(
    requests: int,
    used_tokens: int,
    portals: Mapping[str, int],
    *,
    member_id: str,
    tokens: int,
    rpm: int,
    tpm: int,
) -> bool:
    """Would one more request of ``tokens`` pass a limit or the portal's share? (0 = no limit known)"""
    if rpm > 0 and requests + 1 > rpm:
        return True
    if tpm > 0 and used_tokens > 0 and used_tokens + tokens > tpm:
        return True  # (the first request of a window always passes: a prompt above the limit must run)
    if rpm > 0:
        mine = portals.get(member_id, 0)
        active = len(portals) + (0 if mine else 1)
        if mine + 1 > max(1, rpm // active):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Taken:
    model: str
    window: int
    tokens: int


class ModelLimiter:
    def __init__(
        self,
        counters: LimitCounters,
        clock: Clock,
        *,
        rpm: int = 0,
        tpm: int = 0,
        max_wait_s: float = 30.0,
    ) -> None:
        """``rpm``/``tpm``: requests and input tokens per minute per model (0 = learn them from the
        response headers); ``max_wait_s``: the longest wait for a window before failing."""
        self._counters = counters
        self._clock = clock
        self._rpm = rpm
        self._tpm = tpm
        self._max_wait_s = max_wait_s
        self.learned: dict[str, tuple[int, int]] = {}  # model -> (rpm, tpm) from the headers
        self.waited_s = 0.0

    def limits(self, model: str) -> tuple[int, int]:
        rpm, tpm = self.learned.get(model, (0, 0))
        return (self._rpm or rpm, self._tpm or tpm)

    async def acquire(self, model: str, *, tokens: int, member_id: str) -> Taken:
        """Take one request of ``tokens`` estimated input tokens; waits, or raises LLMRateLimited."""
        started = self._clock.monotonic()
        while True:
            now = self._clock.now()
            window = int(now // WINDOW_S)
            rpm, tpm = self.limits(model)
            try:
                answer = await self._counters.take(
                    model, window, member_id=member_id or "-", tokens=tokens, rpm=rpm, tpm=tpm, now=now
                )
            except CacheError as exc:  # Redis down: go on unthrottled; Anthropic's 429 is the backstop
                log.warning("claude.limit.unavailable", extra={"model": model, "code": exc.code})
                return Taken(model, -1, tokens)
            if answer == 0.0:
                return Taken(model, window, tokens)
            wait = (window + 1) * WINDOW_S - now + 0.01 if answer == WINDOW else float(answer)
            waited = self._clock.monotonic() - started
            if waited + wait > self._max_wait_s:
                log.warning(
                    "claude.limit.exhausted",
                    extra={"model": model, "member_id": member_id, "wait_s": round(wait, 2)},
                )
                raise LLMRateLimited(
                    f"client-side limit of {model} spent for this minute", retry_after=max(1.0, wait)
                )
            self.waited_s += wait
            await self._clock.sleep(min(wait, 1.0))  # re-check: a window may open sooner for a share

    async def settle(self, taken: Taken, *, actual_tokens: int) -> None:
        if actual_tokens != taken.tokens and taken.window >= 0:
            try:
                await self._counters.adjust(taken.model, taken.window, tokens=actual_tokens - taken.tokens)
            except CacheError as exc:
                log.warning("claude.limit.unavailable", extra={"model": taken.model, "code": exc.code})

    async def observe(self, model: str, headers: Mapping[str, str]) -> None:
        """Learn the limits from ``anthropic-ratelimit-*``; a spent one blocks the model until its reset."""
        rpm = _int(headers.get("anthropic-ratelimit-requests-limit"))
        tpm = _int(headers.get("anthropic-ratelimit-input-tokens-limit")) or _int(
            headers.get("anthropic-ratelimit-tokens-limit")
        )
        if rpm or tpm:
            old_rpm, old_tpm = self.learned.get(model, (0, 0))
            self.learned[model] = (rpm or old_rpm, tpm or old_tpm)
        for kind in ("requests", "input-tokens", "tokens"):
            if headers.get(f"anthropic-ratelimit-{kind}-remaining", "").strip() == "0":
                reset = _rfc3339(headers.get(f"anthropic-ratelimit-{kind}-reset"))
                if reset is not None and reset > self._clock.now():
                    await self.block(model, reset)

    async def block(self, model: str, until: float) -> None:
        log.info("claude.limit.blocked", extra={"model": model, "for_s": round(until - self._clock.now(), 2)})
        try:
            await self._counters.block(model, until)
        except CacheError as exc:
            log.warning("claude.limit.unavailable", extra={"model": model, "code": exc.code})


def estimate_tokens(chars: int) -> int:
    """Input tokens of a prompt of ``chars`` characters, rounded up (Russian text runs ~3 chars a token)."""
    return max(1, math.ceil(chars / 3))


def _int(value: str | None) -> int:
    try:
        return max(0, int(str(value).strip())) if value is not None else 0
    except ValueError:
        return 0


def _rfc3339(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
