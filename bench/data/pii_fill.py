"""The base of the slot fillers: a ``Fill`` and the seeded helpers every filler uses."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.data.pii_checksums import valid_as

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fill:
    """What a slot becomes: its text, its PII type (``None`` for a look-alike) and tags."""

    text: str
    pii: str | None
    tags: tuple[str, ...] = ()


class Filler:
    """Round-robin cycles and digit helpers over one seeded generator; ``slot`` calls ``s_<name>``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._cycles: dict[str, list[int]] = {}

    def cycle(self, key: str, options: Sequence[T]) -> T:
        """The next of ``options`` in a shuffled round-robin kept per ``key``."""
        queue = self._cycles.get(key)
        if not queue:  # the queue holds positions, so options may be rebuilt on every call
            queue = list(range(len(options)))
            self.rng.shuffle(queue)
            self._cycles[key] = queue
        return options[queue.pop()]

    def digits(self, n: int, first: str = "0123456789") -> str:
        return self.rng.choice(first) + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def safe_digits(self, n: int, first: str = "123456789") -> str:
        """Digits that pass no checksum of a PII type of their length (a look-alike number)."""
        while True:
            d = self.digits(n, first)
            if not valid_as(d):
                return d

    def slot(self, spec: str) -> Fill:
        name, *args = spec.split(":")
        method: Callable[..., Fill] = getattr(self, f"s_{name}")
        return method(*args)
