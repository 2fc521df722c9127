"""Cost control in one place: the model for an answer (routing, then the budget), the month's spend.

Budgets (per portal, per calendar month, UTC): at ``warn_share`` (80 %) the admins are told once a
month (a notification through the chat gateway, and a ``usage.budget.warning`` log line); at 100 %
the admin's choice applies — ``cheap_only`` (every answer on the cheap model) or ``handoff`` (no
more model answers: the dialogue goes to an operator). The spend comes from the ledger, so it counts
every feature (answers, classification, extraction) and every model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import ChatGateway
from b24claude.ports.cache import Cache
from b24claude.ports.usage import LedgerGroup, LedgerLine, LedgerViews
from b24claude.usage.router import AnswerTask, route_answer
from b24claude.usage.schemas import BudgetState, BudgetStatus, ModelChoice, UsageSettings

log = logging.getLogger("b24claude.usage")

_WARNED_TTL_S = 40 * 86_400.0  # longer than a month: the key carries the month anyway

_WARNING = {
    "ru": "b24claude: израсходовано {share:.0%} месячного бюджета на Claude (${spent:.2f} из ${budget:.2f}). "
    "При 100 % {action}.",
    "en": "b24claude: {share:.0%} of the monthly Claude budget is spent (${spent:.2f} of ${budget:.2f}). "
    "At 100 % {action}.",
}
_ACTIONS = {
    ("ru", "cheap_only"): "бот будет отвечать только быстрой моделью",
    ("ru", "handoff"): "бот перестанет отвечать и будет передавать диалоги операторам",
    ("en", "cheap_only"): "the bot will answer with the cheap model only",
    ("en", "handoff"): "the bot will stop answering and hand dialogues to operators",
}


def month_start(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class UsageService:
    def __init__(
        self,
        *,
        views: LedgerViews,
        cache: Cache,
        clock: Clock,
        defaults: UsageSettings,
        chat: ChatGateway | None = None,
    ) -> None:
        self._views = views
        self._cache = cache
        self._clock = clock
        self._defaults = defaults
        self._chat = chat

    def settings_for(self, portal_settings: Mapping[str, Any]) -> UsageSettings:
        return UsageSettings.of(portal_settings, self._defaults)

    async def budget(self, member_id: str, settings: UsageSettings) -> BudgetStatus:
        start = month_start(self._clock.now())
        if settings.monthly_budget_usd <= 0:
            return BudgetStatus(member_id, 0.0, 0.0, "ok", start)
        spent = await self._views.spent_usd(member_id, since=start)
        share = spent / settings.monthly_budget_usd
        state: BudgetState = "exhausted" if share >= 1.0 else ("warn" if share >= settings.warn_share else "ok")
        return BudgetStatus(member_id, spent, settings.monthly_budget_usd, state, start)

    async def choose_answer_model(
        self,
        member_id: str,
        task: AnswerTask,
        *,
        portal_settings: Mapping[str, Any] | None = None,
        alert_user_ids: Sequence[int] = (),
        language: str = "ru",
    ) -> ModelChoice:
        """The model for this answer: routing by difficulty, then the month's budget over it."""
        settings = self.settings_for(portal_settings or {})
        choice = route_answer(task, settings)
        status = await self.budget(member_id, settings)
        if status.state == "warn":
            await self._warn_once(status, settings, alert_user_ids, language)
        if status.state == "exhausted":
            if settings.over_budget == "handoff":
                choice = ModelChoice(None, "cheap", "budget_handoff", handoff=True)
            else:
                choice = ModelChoice(settings.cheap_model, "cheap", "budget_cheap_only")
            log.warning(
                "usage.budget.exhausted",
                extra={"member_id": member_id, "spent_usd": round(status.spent_usd, 4), "action": choice.reason},
            )
        return replace(choice, budget=status)

    async def _warn_once(
        self, status: BudgetStatus, settings: UsageSettings, alert_user_ids: Sequence[int], language: str
    ) -> None:
        key = f"usage:budget-warned:{status.member_id}:{int(status.period_start)}"
        if await self._cache.get(key) is not None:
            return
        await self._cache.set(key, True, ttl_s=_WARNED_TTL_S)
        log.warning(
            "usage.budget.warning",
            extra={
                "member_id": status.member_id,
                "spent_usd": round(status.spent_usd, 4),
                "budget_usd": status.budget_usd,
                "share": round(status.share, 3),
            },
        )
        if self._chat is None:
            return
        lang = "en" if language == "en" else "ru"
        text = _WARNING[lang].format(
            share=status.share,
            spent=status.spent_usd,
            budget=status.budget_usd,
            action=_ACTIONS[(lang, settings.over_budget)],
        )
        for user_id in alert_user_ids:
            await self._chat.notify_user(status.member_id, user_id=user_id, text=text, tag="b24claude-budget")

    async def ledger(
        self,
        *,
        by: Sequence[LedgerGroup],
        member_id: str | None = None,
        this_month: bool = False,
        limit: int = 100,
    ) -> list[LedgerLine]:
        """Spend grouped by portal, dialogue, feature and/or model (for reports and the dashboard)."""
        since = month_start(self._clock.now()) if this_month else 0.0
        return await self._views.breakdown(by=by, member_id=member_id, since=since, limit=limit)
