"""Classification (triage/) and cost control (usage/) over the real Claude client against the emulator
and a real SQLite store: no mocks of either API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from b24claude.adapters.anthropic import ClaudeLLM
from b24claude.adapters.memory.cache import MemoryCache
from b24claude.adapters.sql.repositories import SqlStore
from b24claude.kit.clock import SystemClock
from b24claude.ports.llm import ChatTurn
from b24claude.ports.store import LedgerEntry
from b24claude.ports.triage import TriageRecord
from b24claude.sandbox.claude import ClaudeState, create_claude_app
from b24claude.sandbox.server import ServerHandle
from b24claude.settings import DEFAULT_PRICES
from b24claude.triage.schemas import TriageSettings
from b24claude.triage.service import TriageService
from b24claude.usage.metered import MeteredLLM
from b24claude.usage.router import AnswerTask, route_answer
from b24claude.usage.schemas import UsageSettings
from b24claude.usage.service import UsageService, month_start

M = "portal.test"


@dataclass
class Parts:
    store: SqlStore
    triage: TriageService
    usage: UsageService
    claude: ClaudeState


class _NoCrm:
    """Nothing bound in these tests: the CRM is never called (the e2e suite covers the note)."""

    async def add_timeline_comment(self, *a: object, **k: object) -> str:
        raise AssertionError("no CRM binding, no note")

    async def set_entity_field(self, *a: object, **k: object) -> str:
        raise AssertionError("no CRM binding, no field")


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    state = ClaudeState()
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    async with ServerHandle(create_claude_app(state)) as server:
        clock = SystemClock()
        llm = ClaudeLLM(
            api_key="sk-ant-sandbox", base_url=server.base_url, default_model="claude-sonnet-5-5",
            prices=DEFAULT_PRICES, clock=clock,
        )
        triage = TriageService(
            llm=MeteredLLM(llm, store.ledger), triage=store.triage, crm=_NoCrm(),  # type: ignore[arg-type]
            effects=store.effects, clock=clock, defaults=TriageSettings(),
        )
        usage = UsageService(views=store.ledger_views, cache=MemoryCache(), clock=clock, defaults=UsageSettings())
        yield Parts(store, triage, usage, state)
        await llm.aclose()
    await store.close()


def _calls(state: ClaudeState) -> int:
    return sum(1 for r in state.requests if r.path == "/v1/messages")


async def test_first_message_is_classified_on_haiku_calm_follow_ups_are_not_a_turn_is(parts: Parts) -> None:
    history = [ChatTurn("user", "Когда привезут мой заказ?")]
    first = await parts.triage.classify(member_id=M, dialog_key="d1", history=history)
    assert first.classified_now and first.turned and first.record is not None
    assert first.record.model == "claude-haiku-5-5" and first.record.type != "complaint"
    assert parts.claude.requests[-1].body["output_config"]["format"]["type"] == "json_schema"
    history += [ChatTurn("assistant", "Заказ в пути."), ChatTurn("user", "А во сколько примерно?")]
    calm = await parts.triage.classify(member_id=M, dialog_key="d1", history=history)
    assert not calm.classified_now and calm.reason == "unchanged" and _calls(parts.claude) == 1
    history += [ChatTurn("assistant", "Днём."), ChatTurn("user", "Третий раз спрашиваю, это безобразие! Жалоба")]
    turned = await parts.triage.classify(member_id=M, dialog_key="d1", history=history)
    assert turned.classified_now and turned.reason == "cue" and turned.turned
    assert turned.record is not None and turned.record.type == "complaint" and turned.record.version == 2
    stored = await parts.store.triage.get(M, "d1")
    assert stored == turned.record
    replay = await parts.triage.classify(member_id=M, dialog_key="d1", history=history)
    assert not replay.classified_now and _calls(parts.claude) == 2  # a replayed row asks nothing again
    [line] = await parts.store.ledger_views.breakdown(by=["feature", "model"], member_id=M)
    assert line.key == ("classify", "claude-haiku-5-5") and line.calls == 2 and line.cost_usd > 0
    assert line.cache_read_input_tokens > 0  # the stable instructions are read from the cache the 2nd time


async def test_under_the_portal_threshold_it_abstains_to_a_human(parts: Parts) -> None:
    history = [ChatTurn("user", "ну вот такое дело значит")]
    lenient = await parts.triage.classify(
        member_id=M, dialog_key="d2", history=history, portal_settings={"triage": {"min_confidence": 0.3}}
    )
    assert lenient.record is not None and not lenient.record.abstained and not lenient.needs_human
    strict = await parts.triage.classify(
        member_id=M, dialog_key="d3", history=history, portal_settings={"triage": {"min_confidence": 0.9}}
    )
    assert strict.record is not None and strict.record.abstained and strict.needs_human


def _labels(kind: str, sentiment: str = "neutral", urgency: str = "normal") -> TriageRecord:
    return TriageRecord(M, "d", kind, urgency, sentiment, False, "доставка", 0.9, False, "claude-haiku-5-5")


def test_routing_cheap_for_simple_faq_strong_for_complex_or_sensitive() -> None:
    s = UsageSettings()
    assert route_answer(AnswerTask("Сколько стоит доставка?", _labels("consultation"), 3), s).tier == "cheap"
    assert route_answer(AnswerTask("Привет", _labels("smalltalk"), 0), s).tier == "cheap"
    assert route_answer(AnswerTask("Где мой заказ?!", _labels("complaint", "negative"), 3), s).reason == "sensitive"
    assert route_answer(AnswerTask("Сколько стоит?", _labels("consultation"), 0), s).reason == "no_knowledge"
    assert route_answer(AnswerTask("x" * 300, _labels("consultation"), 3), s).reason == "complex"
    assert route_answer(AnswerTask("Нужен опт", _labels("sales"), 3), s).tier == "strong"
    assert route_answer(AnswerTask("?", None, 3), s).tier == "strong"
    off = UsageSettings(routing=False)
    assert route_answer(AnswerTask("Сколько стоит доставка?", _labels("consultation"), 3), off).tier == "strong"


async def _spend(store: SqlStore, usd: float) -> None:
    await store.ledger.add(LedgerEntry(M, "answer", "claude-sonnet-5-5", 10, 10, 0, 0, usd, 0.1, "d"))


async def test_budget_warns_at_80_percent_then_cheap_only_or_handoff_at_100(parts: Parts) -> None:
    assert month_start(time.time()) <= time.time()
    task = AnswerTask("Где мой заказ?!", _labels("complaint", "negative"), 3)
    portal = {"usage": {"monthly_budget_usd": 1.0}}
    choice = await parts.usage.choose_answer_model(M, task, portal_settings=portal)
    assert choice.model == "claude-sonnet-5-5" and choice.budget is not None and choice.budget.state == "ok"
    await _spend(parts.store, 0.85)
    warned = await parts.usage.choose_answer_model(M, task, portal_settings=portal)
    assert warned.budget is not None and warned.budget.state == "warn" and warned.model == "claude-sonnet-5-5"
    await _spend(parts.store, 0.2)
    cheap = await parts.usage.choose_answer_model(M, task, portal_settings=portal)
    assert cheap.model == "claude-haiku-5-5" and cheap.reason == "budget_cheap_only" and not cheap.handoff
    handoff = await parts.usage.choose_answer_model(
        M, task, portal_settings={"usage": {"monthly_budget_usd": 1.0, "over_budget": "handoff"}}
    )
    assert handoff.handoff and handoff.model is None
    other = await parts.usage.choose_answer_model("other.portal", task, portal_settings=portal)
    assert other.budget is not None and other.budget.state == "ok"  # budgets are per portal
