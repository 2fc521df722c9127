"""The answer's configuration (from settings, built in bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    persona: str
    company: str
    default_language: str = "ru"
    history_turns: int = 10
    max_tokens: int = 1024
    model: str | None = None
