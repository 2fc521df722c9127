"""``b24claude eval``: replay labelled conversations through the intelligence steps and score them.

What runs: the composition root's real services — the prefilter's rules (routing/), classification
(triage/), retrieval (knowledge/), the answer cache, model routing and budgets (usage/), the answer
prompt with its cache breakpoints (conversations/prompt.py) — over the real ``anthropic`` client
against the Claude emulator (or the real API when ``B24C_ANTHROPIC_API_KEY`` and
``B24C_ANTHROPIC_BASE_URL`` point there), with the ledger recording every call. What does not run: the
Bitrix24 transport, pseudonymisation and the CRM card (the replay calls the services the pipeline's
steps call, one conversation at a time, without the sandbox portal). An answer-cache hit is checked
against the labels: one made for a conversation expecting other knowledge, or with a client's data
for another client, counts as a wrong hit.

Against the emulator the figures measure the pipeline (routing, caching, cost, the plumbing of
handoffs), not Claude's judgement: the emulator classifies by cue words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from b24claude.bootstrap import Container
from b24claude.conversations.prompt import build_system_blocks, join_blocks, knowledge_section, stable_head
from b24claude.conversations.service import take_citations
from b24claude.ports.knowledge import SHARED_BASE, Passage
from b24claude.ports.llm import ChatTurn, LLMRequest, SystemBlock
from b24claude.ports.store import LedgerEntry
from b24claude.routing.prefilter import intent_of
from b24claude.routing.schemas import RoutingSettings
from b24claude.usage.handlers import context_for
from b24claude.usage.router import AnswerTask

Mode = Literal["optimised", "naive"]
EVAL_PORTAL = "eval.local"
_DECLINE = ("нет ответа", "no answer", "уточню у специалиста", "check with a specialist")


@dataclass
class ConversationResult:
    id: str
    label: dict[str, Any]
    type: str | None = None
    urgency: str | None = None
    sentiment: str | None = None
    needs_human: bool | None = None
    handed_off: bool = False
    reply: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    model: str | None = None
    cached: bool = False  # the answer cache served at least one of its answers
    cache_hits: int = 0
    wrong_cache_hits: int = 0
    messages: int = 0
    answered_by_rules: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "urgency": self.urgency,
            "sentiment": self.sentiment,
            "needs_human": self.needs_human,
            "handed_off": self.handed_off,
            "reply": self.reply,
            "sources": self.sources,
            "cost_usd": round(self.cost_usd, 6),
            "model": self.model,
            "cached": self.cached,
        }

    @property
    def declined(self) -> bool:
        return bool(self.reply) and any(d in self.reply[-1].lower() for d in _DECLINE)

    @property
    def resolved(self) -> bool:
        """Without a human: answered from the base, or small talk answered, or spam dealt with."""
        if self.handed_off:
            return False
        if self.label.get("kb_answerable"):
            return bool(set(self.sources) & set(self.label.get("expected_kb") or []))
        return self.label.get("type") in ("smalltalk", "spam")


def load(path: Path) -> list[dict[str, Any]]:
    """The conversations of a JSONL file; a bad line is an error naming it, not a skipped row."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list) or not row.get("id"):
            raise ValueError(f"{path}:{number}: needs an id and a list of messages")
        rows.append(row)
    return rows


class Replayer:
    """One conversation at a time through the container's services (see the module docstring)."""

    def __init__(
        self, container: Container, *, mode: Mode = "optimised", member_id: str = EVAL_PORTAL
    ) -> None:
        self.c = container
        self.mode = mode
        self.member_id = member_id
        self._whole_base: list[Passage] | None = None
        self._origins: dict[str, tuple[str, str, dict[str, Any]]] = {}  # dialog_key -> (id, customer, label)

    async def whole_base(self) -> list[Passage]:
        """Every passage of the shared base (what the naive baseline sends with each message)."""
        if self._whole_base is None:
            passages: list[Passage] = []
            for doc in await self.c.kb.documents(SHARED_BASE):
                for chunk in await self.c.kb.passages_of(SHARED_BASE, doc.key):
                    passages.append(
                        Passage(f"k{chunk.id}", " / ".join(chunk.headings), chunk.text, source=chunk.source)
                    )
            self._whole_base = passages
        return self._whole_base

    async def replay(self, row: dict[str, Any]) -> ConversationResult:
        result = ConversationResult(id=str(row["id"]), label=dict(row.get("label") or {}))
        dialog_key = f"{self.member_id}:eval:{row['id']}:{self.mode}"
        name = str((row.get("customer") or {}).get("name") or "")
        history: list[ChatTurn] = []
        self._origins[dialog_key] = (result.id, name, result.label)
        for text in [str(m) for m in row["messages"]]:
            result.messages += 1
            history.append(ChatTurn("user", text))
            language = "en" if text.isascii() else "ru"
            model: str | None = self.c.settings.answer_model
            if self.mode == "optimised":
                assert self.c.triage is not None and self.c.usage is not None
                # The prefilter's rules (routing/): no model for greetings, thanks, spam, a request for a person.
                intent = intent_of(text)
                if intent == "spam":
                    result.answered_by_rules += 1
                    history.pop()
                    continue
                if intent in ("greeting", "thanks"):
                    result.answered_by_rules += 1
                    rule_reply = RoutingSettings().text(intent, language)
                    result.reply.append(rule_reply)
                    history.append(ChatTurn("assistant", rule_reply))
                    continue
                if intent == "human":
                    result.answered_by_rules += 1
                    result.handed_off = True
                    break
                outcome = await self.c.triage.classify(
                    member_id=self.member_id, dialog_key=dialog_key, history=history, language=language
                )
                if outcome.record is not None:
                    r = outcome.record
                    result.type, result.urgency, result.sentiment = r.type, r.urgency, r.sentiment
                    result.needs_human = outcome.needs_human
                if outcome.needs_human:
                    result.handed_off = True  # the bot stays silent in this dialogue from here on
                    break
                passages = list(await self.c.knowledge.search(self.member_id, text, limit=3))
                head = stable_head(
                    persona=self.c.settings.persona, company=self.c.settings.company_name, language=language
                )
                cache_ctx = (
                    context_for(
                        self.c.answer_cache,
                        member_id=self.member_id,
                        language=language,
                        head=head,
                        history=history,
                        card=None,
                        memory=(),
                        client_id=name or result.id,
                        author=name,
                        masked_author=name,
                    )
                    if self.c.answer_cache is not None
                    else None
                )
                if cache_ctx is not None and self.c.answer_cache is not None:
                    hit = await self.c.answer_cache.lookup(text, cache_ctx)
                    if hit is not None:
                        result.cached = True
                        result.cache_hits += 1
                        if self._wrong_hit(hit.origin, result, name, hit.scope):
                            result.wrong_cache_hits += 1
                        result.reply.append(hit.text)
                        result.sources.extend(s for s in hit.citations if s not in result.sources)
                        result.model = hit.model or result.model
                        history.append(ChatTurn("assistant", hit.text))
                        continue
                choice = await self.c.usage.choose_answer_model(
                    self.member_id, AnswerTask(text, outcome.record, len(passages)), language=language
                )
                if choice.handoff:
                    result.handed_off = True
                    break
                model = choice.model
                blocks = build_system_blocks(
                    persona=self.c.settings.persona,
                    company=self.c.settings.company_name,
                    card=None,
                    passages=passages,
                    language=language,
                    author_name=name,
                )
                request = LLMRequest(
                    system=join_blocks(blocks),
                    system_blocks=blocks,
                    messages=list(history),
                    max_tokens=self.c.settings.answer_max_tokens,
                    model=model,
                    feature="answer",
                )
            else:
                passages = await self.whole_base()
                system = (
                    join_blocks(
                        build_system_blocks(
                            persona=self.c.settings.persona,
                            company=self.c.settings.company_name,
                            card=None,
                            passages=[],
                            language=language,
                            author_name=name,
                        )
                    )
                    + "\n\n"
                    + knowledge_section(passages)
                )
                request = LLMRequest(
                    system=system,
                    system_blocks=[SystemBlock(system, cache=False)],
                    messages=list(history),
                    max_tokens=self.c.settings.answer_max_tokens,
                    model=model,
                    feature="answer",
                    cache_system=False,
                )
            answer = await self.c.models.complete(request)
            await self._ledger(answer, dialog_key)
            reply, cited = take_citations(answer.text, passages)
            if self.mode == "optimised" and cache_ctx is not None and self.c.answer_cache is not None:
                await self.c.answer_cache.store(
                    text, cache_ctx, reply=reply, citations=cited, model=answer.model, origin=dialog_key
                )
            result.reply.append(reply)
            result.sources.extend(s for s in cited if s not in result.sources)
            result.model = answer.model
            history.append(ChatTurn("assistant", reply))
        for line in await self.c.store.ledger_views.breakdown(
            by=["dialog_key"], member_id=self.member_id, limit=1_000_000
        ):
            if line.key == (dialog_key,):
                result.cost_usd = line.cost_usd
                result.input_tokens = line.prompt_tokens
                result.cache_read_tokens = line.cache_read_input_tokens
                result.cache_write_tokens = line.cache_creation_input_tokens
        return result

    def _wrong_hit(self, origin: str, result: ConversationResult, name: str, scope: str) -> bool:
        """Checked against the labels, not the cache's own keys: an answer made for a conversation that
        expected other knowledge (or was not answerable when this one is, or the reverse), or one made
        with a client's data served to another client."""
        made_for = self._origins.get(origin)
        if made_for is None:
            return True  # not made in this run: nothing vouches for it
        _, origin_name, label = made_for
        if scope == "client" and origin_name != name:
            return True
        if bool(label.get("kb_answerable")) != bool(result.label.get("kb_answerable")):
            return True
        expected, theirs = set(result.label.get("expected_kb") or []), set(label.get("expected_kb") or [])
        return bool(expected or theirs) and not expected & theirs

    async def _ledger(self, answer: Any, dialog_key: str) -> None:
        u = answer.usage
        await self.c.store.ledger.add(
            LedgerEntry(
                member_id=self.member_id,
                feature="answer",
                model=answer.model,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_creation_input_tokens=u.cache_creation_input_tokens,
                cache_read_input_tokens=u.cache_read_input_tokens,
                cost_usd=answer.cost_usd,
                latency_s=answer.latency_s,
                dialog_key=dialog_key,
                request_id=answer.request_id,
            )
        )


async def replay_all(
    container: Container,
    rows: Sequence[dict[str, Any]],
    *,
    mode: Mode = "optimised",
    on_done: Callable[[ConversationResult], None] | None = None,
) -> list[ConversationResult]:
    replayer = Replayer(container, mode=mode)
    results = []
    for row in rows:
        outcome = await replayer.replay(row)
        results.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return results


def summarise(results: Sequence[ConversationResult]) -> dict[str, Any]:
    """Accuracy per field, handoff precision/recall, retrieval hit and decline rates, cost, cache shares."""
    n = len(results) or 1
    summary: dict[str, Any] = {"summary": True, "conversations": len(results)}
    for key in ("type", "urgency", "sentiment", "needs_human"):
        scored = [r for r in results if key in r.label]
        right = sum(1 for r in scored if getattr(r, key) == r.label[key])
        summary[f"accuracy_{key}"] = round(right / len(scored), 3) if scored else None
    wanted = [r for r in results if r.label.get("needs_human")]
    handed = [r for r in results if r.handed_off]
    both = [r for r in handed if r.label.get("needs_human")]
    summary["handoff_precision"] = round(len(both) / len(handed), 3) if handed else None
    summary["handoff_recall"] = round(len(both) / len(wanted), 3) if wanted else None
    answerable = [r for r in results if r.label.get("kb_answerable")]
    hits = [r for r in answerable if set(r.sources) & set(r.label.get("expected_kb") or [])]
    summary["retrieval_hit_rate"] = round(len(hits) / len(answerable), 3) if answerable else None
    unanswerable = [
        r
        for r in results
        if not r.label.get("kb_answerable")
        and r.label.get("type") == "consultation"
        and not r.label.get("needs_human")
    ]
    declined = [r for r in unanswerable if r.declined or r.handed_off]
    summary["decline_rate_unanswerable"] = (
        round(len(declined) / len(unanswerable), 3) if unanswerable else None
    )
    cost = sum(r.cost_usd for r in results)
    prompt = sum(r.input_tokens for r in results)
    summary["cost_usd"] = round(cost, 6)
    summary["cost_per_conversation_usd"] = round(cost / n, 6)
    summary["cost_per_1000_usd"] = round(1000 * cost / n, 4)
    summary["cache_read_share"] = (
        round(sum(r.cache_read_tokens for r in results) / prompt, 3) if prompt else 0.0
    )
    messages = sum(r.messages for r in results) or 1
    summary["rules_or_cache_share"] = round(
        sum(r.answered_by_rules + r.cache_hits for r in results) / messages, 3
    )
    summary["rules_share"] = round(sum(r.answered_by_rules for r in results) / messages, 3)
    summary["answer_cache_share"] = round(sum(r.cache_hits for r in results) / messages, 3)
    summary["answer_cache_hits"] = sum(r.cache_hits for r in results)
    summary["wrong_cache_hits"] = sum(r.wrong_cache_hits for r in results)
    resolved = [r for r in results if r.resolved]
    summary["resolved"] = len(resolved)
    summary["cost_per_resolved_usd"] = round(cost / len(resolved), 6) if resolved else None
    summary["handed_off"] = len(handed)
    return summary


async def run_eval(
    path: Path,
    *,
    knowledge: Path | None,
    out: Path | None,
    as_json: bool,
    mode: Mode = "optimised",
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Start the sandbox stack (portal and Claude emulators, the app's container), replay, summarise."""
    import os

    from rich.progress import Progress

    from b24claude.cli.stack import SandboxStack

    rows = load(path)
    settings: dict[str, Any] = {"log_level": "WARNING", **(overrides or {})}
    if knowledge is not None:
        settings["knowledge_dir"] = str(knowledge)
    if os.environ.get("B24C_ANTHROPIC_API_KEY") and os.environ.get("B24C_ANTHROPIC_BASE_URL"):
        # The real API (or any other endpoint) instead of the emulator.
        settings["anthropic_api_key"] = os.environ["B24C_ANTHROPIC_API_KEY"]
        settings["anthropic_base_url"] = os.environ["B24C_ANTHROPIC_BASE_URL"]
    stack = SandboxStack(settings_overrides=settings)
    await stack.start(install=False)
    try:
        assert stack.container is not None
        lines: list[str] = []
        with Progress(transient=True, disable=not progress or as_json) as bar:
            task = bar.add_task("eval", total=len(rows))

            def done(result: ConversationResult) -> None:
                bar.advance(task)
                if as_json:
                    lines.append(json.dumps(result.as_json(), ensure_ascii=False))
                    print(lines[-1], flush=True)

            results = await replay_all(stack.container, rows, mode=mode, on_done=done)
        summary = summarise(results)
        summary["mode"] = mode
        summary["claude"] = stack.settings.anthropic_base_url
        if out is not None:
            _write_out(out, results, summary)
        return summary
    finally:
        await stack.stop()


def _write_out(out: Path, results: Sequence[ConversationResult], summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").write_text(
        "".join(json.dumps(r.as_json(), ensure_ascii=False) + "\n" for r in results), encoding="utf-8"
    )
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
