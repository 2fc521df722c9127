"""``b24claude eval``: replay labelled conversations through the real loop and score them.

What runs (``optimised``, the default): the whole product in the sandbox stack — the app installed into
the Bitrix24 emulator over real HTTP, each conversation written by its own emulated customer into an
Open Line (name and VIP from the line's ``customer``; a VIP is in the portal's routing list
``vip_user_ids``), message by message, each one waited for (its reply, its handoff, or a message
the rules drop). So the ingress, the inbox and its workers, pseudonymisation, the CRM card, the
prefilter, classification, routing and handoff, retrieval, the answer cache, model routing and the
ledger all run as in production, with Claude emulated (or the real API when ``B24C_ANTHROPIC_API_KEY``
and ``B24C_ANTHROPIC_BASE_URL`` point there; the portal stays emulated). What the product decided is
read back from its own stores and the portal: ``dialogue_triage`` (type, urgency, sentiment,
needs_human), the portal's session (transferred to a person: handed off), the customer's chat (the
replies as seen), ``dialogue_turns`` (citations), ``llm_ledger`` (cost, model, cache tokens), and the
answer cache's hits (served replies, checked against the labels: one made for a conversation
expecting other knowledge, or with a client's data for another client, counts as a wrong hit).

``naive`` (the benchmark's baseline only) calls Claude directly with the whole base in every prompt.

Against the emulator the figures measure the pipeline (routing, caching, cost, the plumbing of
handoffs), not Claude's judgement: the emulator classifies by cue words.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import text as sql_text

from b24claude.bootstrap import Container
from b24claude.cli.stack import SandboxStack
from b24claude.conversations.prompt import build_system_blocks, join_blocks, knowledge_section
from b24claude.conversations.service import take_citations
from b24claude.events.models import dialog_key
from b24claude.ports.knowledge import SHARED_BASE, Passage
from b24claude.ports.llm import ChatTurn, LLMRequest, SystemBlock
from b24claude.ports.store import LedgerEntry
from b24claude.sandbox.portal.im import add_user
from b24claude.usage.answer_cache import AnswerContext, CachedAnswer

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


class NaiveReplayer:
    """The benchmark's baseline: every message straight to Claude on the strong model, with its whole
    history and the whole shared base in the system prompt, no cache breakpoints, no rules."""

    def __init__(self, container: Container, *, member_id: str = EVAL_PORTAL) -> None:
        self.c = container
        self.member_id = member_id
        self._whole_base: list[Passage] | None = None

    async def whole_base(self) -> list[Passage]:
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
        dialog_key = f"{self.member_id}:eval:{row['id']}:naive"
        name = str((row.get("customer") or {}).get("name") or "")
        history: list[ChatTurn] = []
        passages = await self.whole_base()
        for text in [str(m) for m in row["messages"]]:
            result.messages += 1
            history.append(ChatTurn("user", text))
            language = "en" if text.isascii() else "ru"
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
                model=self.c.settings.answer_model,
                feature="answer",
                cache_system=False,
            )
            answer = await self.c.models.complete(request)
            await self._ledger(answer, dialog_key)
            reply, cited = take_citations(answer.text, passages)
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


class LoopReplayer:
    """One conversation at a time through the sandbox stack's whole loop (see the module docstring)."""

    def __init__(self, stack: SandboxStack, *, timeout_s: float = 60.0) -> None:
        self.stack = stack
        self.timeout_s = timeout_s
        self._origins: dict[str, tuple[str, str, dict[str, Any]]] = {}  # dialog_key -> (id, customer, label)
        self._hits: list[CachedAnswer] = []  # served by the answer cache during the current conversation
        cache = stack.container.answer_cache if stack.container is not None else None
        if cache is not None:
            # An observer on the product's own cache (the one its pipeline step calls): which answers it
            # served, made for which dialogue. Conversations run one at a time, so a hit is this one's.
            lookup = cache.lookup

            async def observed(question: str, ctx: AnswerContext) -> CachedAnswer | None:
                hit = await lookup(question, ctx)
                if hit is not None:
                    self._hits.append(hit)
                return hit

            cache.lookup = observed  # type: ignore[method-assign]

    @property
    def c(self) -> Container:
        assert self.stack.container is not None
        return self.stack.container

    async def mark_vips(self, rows: Sequence[dict[str, Any]]) -> None:
        """The VIP customers, known to the portal before they write, in the portal's routing settings
        (``routing.vip_user_ids``: what routing's escalate step checks an author against)."""
        portal = self.stack.portal
        vips: list[int] = []
        for row in rows:
            customer = dict(row.get("customer") or {})
            if customer.get("vip"):
                key = _customer_key(row)
                uid = add_user(portal, None, str(customer.get("name") or key), connector=True)
                portal.customers[key] = uid
                vips.append(uid)
        if not vips:
            return
        record = await self.c.store.portals.get(self.stack.member_id)
        assert record is not None
        routing = {**(record.settings.get("routing") or {})}
        routing["vip_user_ids"] = sorted({*routing.get("vip_user_ids", ()), *vips})
        await self.c.store.portals.update_settings(self.stack.member_id, {**record.settings, "routing": routing})

    async def replay(self, row: dict[str, Any]) -> ConversationResult:
        result = ConversationResult(id=str(row["id"]), label=dict(row.get("label") or {}))
        customer = dict(row.get("customer") or {})
        name = str(customer.get("name") or "")
        profile = {"key": _customer_key(row), "name": name or _customer_key(row)}
        channel = str(row.get("channel") or "livechat")
        portal = self.stack.portal
        chat_id: int | None = None
        first_id = 0
        self._hits = []
        for text in [str(m) for m in row["messages"]]:
            before = await self._terminal_rows()
            calls_before = await self._ledger_count(chat_id)
            hits_before = len(self._hits)
            msg = await portal.customer_writes(text, profile, channel=channel)
            if chat_id is None:
                chat_id, first_id = msg.chat_id, msg.id
                self._origins[_dialog_key(chat_id)] = (result.id, name, result.label)
            result.messages += 1
            await self._settle(msg.chat_id, msg.id, before)
            served = len(self._hits) - hits_before
            if served == 0 and await self._ledger_count(chat_id) == calls_before:
                result.answered_by_rules += 1  # no model and no cache: a rule answered, dropped or handed off
            if self._handed_off(chat_id):
                break  # the dialogue is a person's now: the customer's next messages are theirs
        assert chat_id is not None
        dialog_key = _dialog_key(chat_id)
        result.handed_off = self._handed_off(chat_id)
        result.reply = [
            str(m["text"]) for m in portal.customer_view(chat_id) if m["id"] > first_id and self.stack.is_bot(m)
        ]
        triage = await self.c.store.triage.get(self.stack.member_id, dialog_key)
        if triage is not None:
            result.type, result.urgency, result.sentiment = triage.type, triage.urgency, triage.sentiment
            result.needs_human = triage.needs_human
        for cited in await self._citations(dialog_key):
            if cited not in result.sources:
                result.sources.append(cited)
        for hit in self._hits:
            result.cached = True
            result.cache_hits += 1
            if self._wrong_hit(hit.origin, result, name, hit.scope):
                result.wrong_cache_hits += 1
        for line in await self.c.store.ledger_views.breakdown(
            by=["dialog_key"], member_id=self.stack.member_id, limit=1_000_000
        ):
            if line.key == (dialog_key,):
                result.cost_usd = line.cost_usd
                result.input_tokens = line.prompt_tokens
                result.cache_read_tokens = line.cache_read_input_tokens
                result.cache_write_tokens = line.cache_creation_input_tokens
        result.model = await self._answer_model(dialog_key) or next(
            (h.model for h in reversed(self._hits) if h.model), None
        )
        return result

    def _handed_off(self, chat_id: int) -> bool:
        """Transferred: the session's operator is no longer a bot (routing's transfer on the portal)."""
        portal = self.stack.portal
        session = portal.sessions.get(portal.chats[chat_id].session_id)
        return session is not None and session.operator_id not in portal.bots

    async def _terminal_rows(self) -> int:
        counts = await self.c.store.inbox.counts()
        return sum(n for status, n in counts.items() if status not in ("pending", "processing"))

    async def _settle(self, chat_id: int, after_id: int, before: int) -> None:
        """Until the message is dealt with: a new inbox row finished, nothing in flight, and the bot's
        reply shown or the dialogue transferred (a dropped message shows neither: a short grace)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        idle_since: float | None = None
        while loop.time() < deadline:
            counts = await self.c.store.inbox.counts()
            busy = counts.get("pending", 0) + counts.get("processing", 0)
            finished = sum(n for status, n in counts.items() if status not in ("pending", "processing"))
            if not busy and finished > before:
                replied = any(
                    m["id"] > after_id and self.stack.is_bot(m) for m in self.stack.portal.customer_view(chat_id)
                )
                if replied or self._handed_off(chat_id):
                    return
                idle_since = idle_since if idle_since is not None else loop.time()
                if loop.time() - idle_since > 0.5:
                    return
            else:
                idle_since = None
            await asyncio.sleep(0.02)
        raise TimeoutError(f"message {after_id} in chat {chat_id} not dealt with in {self.timeout_s} s")

    async def _query(self, sql: str, **params: Any) -> list[Any]:
        async with self.c.store.engine.connect() as conn:
            return list((await conn.execute(sql_text(sql), params)).all())

    async def _ledger_count(self, chat_id: int | None) -> int:
        if chat_id is None:
            return 0
        rows = await self._query(
            "SELECT count(*) FROM llm_ledger WHERE member_id = :m AND dialog_key = :d",
            m=self.stack.member_id,
            d=_dialog_key(chat_id),
        )
        return int(rows[0][0])

    async def _answer_model(self, dialog_key: str) -> str | None:
        rows = await self._query(
            "SELECT model FROM llm_ledger WHERE member_id = :m AND dialog_key = :d AND feature = 'answer'"
            " ORDER BY id DESC LIMIT 1",
            m=self.stack.member_id,
            d=dialog_key,
        )
        return str(rows[0][0]) if rows else None

    async def _citations(self, dialog_key: str) -> list[str]:
        rows = await self._query(
            "SELECT citations FROM dialogue_turns WHERE member_id = :m AND dialog_key = :d"
            " AND role = 'assistant' ORDER BY seq",
            m=self.stack.member_id,
            d=dialog_key,
        )
        cited: list[str] = []
        for (value,) in rows:
            for source in (json.loads(value) if isinstance(value, str) else value) or ():
                cited.append(str(source))
        return cited

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


def _customer_key(row: dict[str, Any]) -> str:
    return f"eval:{row['id']}"  # one customer per conversation


def _dialog_key(chat_id: int) -> str:
    return dialog_key(f"chat{chat_id}")


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
    """Start the sandbox stack (portal and Claude emulators, the app installed), replay, summarise."""
    import os

    from rich.progress import Progress

    rows = load(path)
    settings: dict[str, Any] = {
        "log_level": "WARNING",
        # One message at a time is waited for: the bot's events as soon as the portal has them.
        "v2_poll_interval_s": 0.05,
        **(overrides or {}),
    }
    if knowledge is not None:
        settings["knowledge_dir"] = str(knowledge)
    if os.environ.get("B24C_ANTHROPIC_API_KEY") and os.environ.get("B24C_ANTHROPIC_BASE_URL"):
        # The real API (or any other endpoint) instead of the emulator; the portal stays emulated.
        settings["anthropic_api_key"] = os.environ["B24C_ANTHROPIC_API_KEY"]
        settings["anthropic_base_url"] = os.environ["B24C_ANTHROPIC_BASE_URL"]
    # The portal's REST rate limit is not what is measured here: a generous one keeps the replay fast.
    stack = SandboxStack(settings_overrides=settings, rate_limit_per_s=500.0, burst=1000)
    await stack.start(install=mode == "optimised")
    try:
        assert stack.container is not None
        results: list[ConversationResult] = []
        with Progress(transient=True, disable=not progress or as_json) as bar:
            task = bar.add_task("eval", total=len(rows))
            replay: Callable[[dict[str, Any]], Awaitable[ConversationResult]]
            if mode == "optimised":
                loop = LoopReplayer(stack)
                await loop.mark_vips(rows)
                replay = loop.replay
            else:
                replay = NaiveReplayer(stack.container).replay
            for row in rows:
                result = await replay(row)
                results.append(result)
                bar.advance(task)
                if as_json:
                    print(json.dumps(result.as_json(), ensure_ascii=False), flush=True)
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
