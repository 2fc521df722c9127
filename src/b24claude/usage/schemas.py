"""Per-portal cost settings and the decisions the usage service hands to the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

BudgetAction = Literal["cheap_only", "handoff"]
BudgetState = Literal["ok", "warn", "exhausted"]
Tier = Literal["cheap", "strong"]


@dataclass(frozen=True, slots=True)
class UsageSettings:
    """Service-wide defaults (settings.py), overridden per portal by ``Portal.settings["usage"]``."""

    cheap_model: str = "claude-haiku-5-5"
    strong_model: str = "claude-sonnet-5-5"
    routing: bool = True  # False: every answer goes to the strong model (the pre-issue-9 behaviour)
    monthly_budget_usd: float = 0.0  # 0: no budget
    warn_share: float = 0.8
    over_budget: BudgetAction = "cheap_only"  # the admin's choice at 100 %
    simple_max_chars: int = 160  # longer questions are not "simple FAQ"
    answer_cache: bool = True  # repeated opening questions answered from the answer cache

    @classmethod
    def of(cls, portal_settings: Mapping[str, Any], defaults: UsageSettings) -> UsageSettings:
        raw = portal_settings.get("usage")
        if not isinstance(raw, Mapping):
            return defaults
        action = raw.get("over_budget", defaults.over_budget)
        return replace(
            defaults,
            cheap_model=str(raw.get("cheap_model") or defaults.cheap_model),
            strong_model=str(raw.get("strong_model") or defaults.strong_model),
            routing=bool(raw.get("routing", defaults.routing)),
            monthly_budget_usd=max(0.0, _float(raw.get("monthly_budget_usd"), defaults.monthly_budget_usd)),
            warn_share=min(1.0, max(0.0, _float(raw.get("warn_share"), defaults.warn_share))),
            over_budget=action if action in ("cheap_only", "handoff") else defaults.over_budget,
            simple_max_chars=int(_float(raw.get("simple_max_chars"), defaults.simple_max_chars)),
            answer_cache=bool(raw.get("answer_cache", defaults.answer_cache)),
        )


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    member_id: str
    spent_usd: float
    budget_usd: float  # 0: none
    state: BudgetState
    period_start: float  # UNIX time of the first instant of the month (UTC)

    @property
    def share(self) -> float:
        return self.spent_usd / self.budget_usd if self.budget_usd > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The answer step's model, or a handoff instead of an answer (budget exhausted, admin's choice)."""

    model: str | None
    tier: Tier
    reason: str  # simple_faq, complex, sensitive, no_knowledge, routing_off, budget_cheap_only, budget_handoff
    handoff: bool = False
    budget: BudgetStatus | None = None


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
