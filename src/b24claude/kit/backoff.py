"""Exponential backoff with jitter and a cap on server-requested waits."""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 8.0, rng: random.Random | None = None
) -> float:
    """Delay before retry number ``attempt`` (1-based): ``min(base * 2**(n-1), cap)`` x jitter in [0.75, 1]."""
    jitter = rng.random() if rng is not None else random.random()
    raw: float = min(base * (2 ** max(0, attempt - 1)), cap)
    return raw * (0.75 + 0.25 * jitter)


def capped_wait(requested: float | None, *, attempt: int, cap: float, base: float = 0.5) -> float:
    """The server's ``retry-after`` when given (never above ``cap``), else our own backoff."""
    if requested is not None and requested >= 0:
        return min(requested, cap)
    return min(backoff_delay(attempt, base=base), cap)
