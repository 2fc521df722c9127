"""Rate limit (leaky bucket per portal) and the per-(app, method) operating-time limit.

reference/bitrix24.md §3.1-§3.3: +1 per HTTP request (batch = 1), drains ``rate_limit_per_s``;
over ``burst`` -> 503 QUERY_LIMIT_EXCEEDED. Operating time is summed over 10 one-minute buckets;
over ``operating_limit_s`` the next call of that method is 429 OPERATION_TIME_LIMIT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import JSON, RestError

if TYPE_CHECKING:
    from .state import PortalState

WINDOW_MINUTES = 10


class Limiter:
    def __init__(self, state: PortalState) -> None:
        self.state = state
        self.level = 0.0
        self._last: float | None = None
        self._operating: dict[tuple[str, str], dict[int, float]] = {}

    # ----- leaky bucket -------------------------------------------------------------------------
    def _drain(self) -> float:
        now = self.state.now()
        if self._last is not None and now > self._last:
            self.level = max(0.0, self.level - (now - self._last) * self.state.config.rate_limit_per_s)
        self._last = now if self._last is None else max(self._last, now)
        return now

    def hit(self) -> None:
        """Count one HTTP request; raise 503 QUERY_LIMIT_EXCEEDED when the bucket overflows."""
        self._drain()
        if self.level + 1 > self.state.config.burst:
            self.state.stats.rejected_rate_limit += 1
            raise RestError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        self.level += 1

    def reset(self) -> None:
        self.level = 0.0
        self._operating.clear()

    # ----- operating time -----------------------------------------------------------------------
    def _buckets(self, key: str, method: str) -> dict[int, float]:
        buckets = self._operating.setdefault((key, method), {})
        current = int(self.state.now() // 60)
        for minute in [m for m in buckets if m <= current - WINDOW_MINUTES]:
            del buckets[minute]
        return buckets

    def operating(self, key: str, method: str) -> tuple[float, int]:
        buckets = self._buckets(key, method)
        total = sum(buckets.values())
        if buckets:
            reset_at = (min(buckets) + WINDOW_MINUTES) * 60
        else:
            reset_at = int(self.state.now()) + WINDOW_MINUTES * 60
        return total, reset_at

    def check_operating(self, key: str, method: str) -> None:
        total, _ = self.operating(key, method)
        if total > self.state.config.operating_limit_s:
            self.state.stats.rejected_operating_limit += 1
            raise RestError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit")

    def record_operating(self, key: str, method: str, seconds: float) -> None:
        buckets = self._buckets(key, method)
        minute = int(self.state.now() // 60)
        buckets[minute] = buckets.get(minute, 0.0) + seconds

    def time_block(
        self, start: float, processing: float, key: str | None = None, method: str | None = None
    ) -> JSON:
        finish = start + processing
        block: JSON = {
            "start": round(start, 6),
            "finish": round(finish, 6),
            "duration": round(processing, 6),
            "processing": round(processing, 6),
            "date_start": self.state.iso(start),
            "date_finish": self.state.iso(finish),
        }
        if key is not None and method is not None:
            total, reset_at = self.operating(key, method)
            block["operating_reset_at"] = reset_at
            block["operating"] = round(total, 6)
        else:
            block["operating_reset_at"] = int(start) + WINDOW_MINUTES * 60
            block["operating"] = 0
        return block
