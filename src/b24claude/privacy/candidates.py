"""What every recogniser returns: a typed span with a priority for overlap resolution."""

from __future__ import annotations

from dataclasses import dataclass

from b24claude.ports.privacy import PiiType

# Priorities: a checksum (or an explicit keyword) beats a shape, a shape beats a guess from words.
VALIDATED = 3
STRONG = 2
SHAPE = 1
WORDS = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    type: PiiType
    start: int
    end: int
    priority: int

    @property
    def length(self) -> int:
        return self.end - self.start


def resolve(candidates: list[Candidate]) -> list[Candidate]:
    """Non-overlapping candidates: higher priority first, then longer, then earlier; sorted by start."""
    chosen: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (-c.priority, -c.length, c.start)):
        if all(c.end <= o.start or c.start >= o.end for o in chosen):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.start)
