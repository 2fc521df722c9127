"""A circuit breaker per key (e.g. per model): stop calling what keeps failing, try again later.

Closed: calls go through; ``failures`` consecutive failures open it. Open: calls are refused until
``cooldown_s`` passed. Then one trial call is let through (half-open): success closes the breaker,
failure opens it for another cooldown. State is per process (a Redis-backed twin can share it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0
    trial: bool = False  # a half-open trial call is in flight


class CircuitBreaker:
    def __init__(self, *, failures: int, cooldown_s: float, monotonic: Callable[[], float]) -> None:
        self.failures = max(1, failures)
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._states: dict[str, _State] = {}

    def allow(self, key: str) -> bool:
        """May a call for ``key`` go out now? (Takes the half-open trial slot when it is free.)"""
        state = self._states.get(key)
        if state is None or state.failures < self.failures:
            return True
        if self._monotonic() < state.open_until or state.trial:
            return False
        state.trial = True
        return True

    def success(self, key: str) -> None:
        self._states.pop(key, None)

    def failure(self, key: str) -> None:
        state = self._states.setdefault(key, _State())
        state.failures += 1
        state.trial = False
        if state.failures >= self.failures:
            state.open_until = self._monotonic() + self.cooldown_s

    def is_open(self, key: str) -> bool:
        state = self._states.get(key)
        return state is not None and state.failures >= self.failures and self._monotonic() < state.open_until

    def retry_in(self, key: str) -> float:
        """Seconds until ``key`` may be tried again (0 when it may be tried now)."""
        state = self._states.get(key)
        if state is None or state.failures < self.failures:
            return 0.0
        return max(0.0, state.open_until - self._monotonic())
