"""The answer to a customer's message: history, Claude, reply — once per message.

Effects are recorded against the inbox row that caused them (DESIGN.md §7): the reply is an
intent (with the generated text) before it is sent and done after, so a replay after a crash
neither asks Claude again nor answers twice; an intent without a result is checked against the
chat's latest messages before it is sent again.

Privacy (DESIGN.md §2 step 3): everything here works on the pseudonymised text (``turn.masked``,
the masked card); history turns and effect payloads hold placeholders only. Real values are restored
for Bitrix24 alone: the reply the customer reads.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from b24claude.conversations.app_settings import BotSettings
from b24claude.conversations.prompt import build_system_blocks, join_blocks, stable_head
from b24claude.conversations.schemas import AnswerConfig
from b24claude.dispatch import Flow, MessageContext, ReplySent
from b24claude.errors import LLMError
from b24claude.events.models import IncomingMessage
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, ChatGateway
from b24claude.ports.knowledge import Passage
from b24claude.ports.llm import LLM, ChatTurn, LLMRequest
from b24claude.ports.store import DialogueRepository, Turn
from b24claude.safety.guard import history_text, screen_message, screen_reply

log = logging.getLogger("b24claude.conversations")


class AnswerService:
    def __init__(
        self,
        *,
        llm: LLM,
        chat: ChatGateway,
        dialogues: DialogueRepository,
        clock: Clock,
        config: AnswerConfig,
    ) -> None:
        self._llm = llm  # metered: the ledger is written by the wrapper (usage.metered)
        self._chat = chat
        self._dialogues = dialogues
        self._clock = clock
        self._cfg = config

    @property
    def config(self) -> AnswerConfig:
        return self._cfg

    def head_of(self, turn: MessageContext) -> str:
        """The answer prompt's stable head for this turn (the portal's persona and company, the language):
        what the answer cache keys its entries on besides the question."""
        bot = BotSettings.from_settings(turn.ctx.portal.settings)
        return stable_head(
            persona=bot.persona or self._cfg.persona,
            company=bot.company_name or self._cfg.company,
            language=turn.language,
        )

    # --- stage "pseudonymise" (after privacy): the customer's turn is history --------------------

    async def record_user_turn(self, turn: MessageContext) -> Flow | None:
        msg = turn.msg
        text = turn.masked
        if not text.strip() and turn.files:
            # Only a file came: the history says so (its name masked like any text), never its link.
            mask, mark = turn.require_mask(), _FILE_MARK.get(turn.language, _FILE_MARK["ru"])
            text = " ".join(f"[{mark}: {mask.mask(f.name)}]" for f in turn.files)
        await self._dialogues.append(
            msg.member_id, msg.dialog_key, Turn("user", text, msg.message_id, self._clock.now())
        )
        return None

    # --- stage "context": the last turns ---------------------------------------------------------

    async def load_history(self, turn: MessageContext) -> Flow | None:
        turn.history = await self._dialogues.last_turns(
            turn.member_id, turn.dialog_key, limit=self._cfg.history_turns
        )
        return None

    # --- stage "pseudonymise" (last): an injection attempt gets a fixed reply, the model is not asked --

    async def screen(self, turn: MessageContext) -> Flow | None:
        if turn.reply is not None:  # a rule's reply, or a resumed one: already decided
            return None
        verdict = screen_message(turn.masked, language=turn.language)
        if not verdict.blocked:
            return None
        log.warning(
            "safety.message.blocked",
            extra={"member_id": turn.member_id, "dialog_key": turn.dialog_key, "rules": list(verdict.rules)},
        )
        turn.reply, turn.citations, turn.reply_kind = verdict.reply, (), "rule"
        return Flow.SEND

    # --- stage "answer": Claude ------------------------------------------------------------------

    async def generate(self, turn: MessageContext) -> Flow | None:
        """Claude's reply, with placeholders in it (as the model saw the dialogue), and the sources of the
        passages it cites (their ``[id]`` markers are taken out of the text). A failure of Claude is left
        in ``turn.llm_error`` for the failover step (routing)."""
        if turn.reply is not None or turn.llm_error is not None:  # decided, or no model may be asked (budget)
            return None
        msg, mask = turn.msg, turn.require_mask()
        # An injection attempt already in the history goes to the model as a stub (safety/).
        turns = [ChatTurn(t.role, history_text(t.role, t.text)) for t in turn.history]
        current = history_text("user", turn.masked)
        if not turns or turns[-1].role != "user" or turns[-1].text != current:
            turns.append(ChatTurn("user", current))
        bot = BotSettings.from_settings(turn.ctx.portal.settings)  # the admin's persona and company name
        blocks = build_system_blocks(
            persona=bot.persona or self._cfg.persona,
            company=bot.company_name or self._cfg.company,
            card=turn.card,
            passages=turn.passages,
            language=turn.language,
            author_name=mask.mask_name(msg.author_name),
            memory=turn.memory,
        )
        await mask.save()
        try:
            result = await self._llm.complete(
                LLMRequest(
                    system=join_blocks(blocks),
                    system_blocks=blocks,
                    messages=turns,
                    max_tokens=self._cfg.max_tokens,
                    model=turn.model or self._cfg.model,
                    feature="answer",
                    metadata_user_id=_opaque(msg.member_id, msg.author_id),
                    member_id=msg.member_id,
                    dialog_key=msg.dialog_key,
                    inbox_id=turn.ctx.inbox_id,
                )
            )
        except LLMError as exc:
            turn.llm_error = exc
            return None
        turn.ctx.timings.llm_s += result.latency_s  # for timing middlewares (benchmarks, metrics)
        turn.ctx.timings.llm_calls += 1
        text, citations = take_citations(result.text, turn.passages)
        screened = screen_reply(text, instructions=blocks[0].text, language=turn.language)
        if screened.reason:  # the model quoted our instructions or markup: the customer gets the safe answer
            log.warning(
                "safety.reply.replaced",
                extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "reason": screened.reason},
            )
            turn.reply, turn.citations = screened.text, ()
            return None
        turn.reply, turn.citations = (text or _fallback(turn.language)), citations
        return None

    # --- stage "send" ----------------------------------------------------------------------------

    async def send(self, turn: MessageContext) -> Flow | None:
        msg, mask, effects = turn.msg, turn.require_mask(), turn.ctx.row_effects()
        bot = BotIdentity(msg.bot_id or (turn.ctx.portal.bot_id or 0), turn.ctx.portal.bot_code, msg.bot_api)
        if turn.reply is None:
            if turn.llm_error is not None:
                raise turn.llm_error  # no failover step took it: the row is retried
            return None
        if turn.resumed:
            # Intent recorded, result unknown: did the send happen before the crash?
            restored = mask.unmask(turn.reply, language=turn.language)
            sent_id = await self._already_sent(msg, bot, restored)
            if sent_id is not None:
                await self._finish(turn, message_id=sent_id)
                turn.ctx.emit(ReplySent(turn))
                return None
        else:
            await mask.save()
            await effects.intent(
                "reply", {"text": turn.reply, "dialog_id": msg.dialog_id, "citations": list(turn.citations)}
            )
        text = mask.unmask(turn.reply, language=turn.language)
        message_id = await self._chat.send_message(
            msg.member_id, bot, dialog_id=msg.dialog_id, text=text, keyboard=turn.keyboard
        )
        await self._finish(turn, message_id=message_id)
        turn.ctx.emit(ReplySent(turn))
        # Only pseudonymised text is ever handed to a logger; the log processor drops even that unless
        # the portal's admin turned text logging on.
        log.info(
            "conversation.answered",
            extra={
                "member_id": msg.member_id,
                "dialog_key": msg.dialog_key,
                "inbox_id": turn.ctx.inbox_id,
                "text": turn.masked,
                "reply": turn.reply,
                "kind": turn.reply_kind,
            },
        )
        return None

    async def _finish(self, turn: MessageContext, *, message_id: int | None) -> None:
        assert turn.reply is not None
        turn.message_id = message_id
        # The history turn first, then the effect: a crash between the two leaves an intent, whose
        # replay finds the sent message (same id: the turn is stored once) and records it done. The
        # other order let a replay see "done" with the reply missing from the history, and the
        # dialogue's next question was built as two customer turns in a row (answered as the older).
        await self._dialogues.append(
            turn.member_id,
            turn.dialog_key,
            Turn("assistant", turn.reply, message_id, self._clock.now(), citations=turn.citations),
        )
        await turn.ctx.row_effects().done("reply", {"message_id": message_id})

    async def restore_reply_turn(
        self, turn: MessageContext, payload: Mapping[str, Any], result: Mapping[str, Any] | None
    ) -> None:
        """The reply's assistant turn, for a reply effect recorded done by an earlier run (a no-op when
        that run stored it: the turn is keyed by the reply's message id)."""
        message_id = (result or {}).get("message_id")
        if not isinstance(message_id, int) or "text" not in payload:
            return  # no id to store it once under (rows answered before ids were kept)
        citations = tuple(str(c) for c in payload.get("citations") or ())
        await self._dialogues.append(
            turn.member_id,
            turn.dialog_key,
            Turn("assistant", str(payload["text"]), message_id, self._clock.now(), citations=citations),
        )

    async def _already_sent(self, msg: IncomingMessage, bot: BotIdentity, text: str) -> int | None:
        """The id of our reply if the chat already shows it (sent before a crash), else ``None``."""
        recent = await self._chat.recent_messages(msg.member_id, bot, dialog_id=msg.dialog_id, limit=20)
        for m in recent:
            # After the customer's message only: an identical earlier reply (a prepared answer
            # given twice) is not this one.
            if m.id > msg.message_id and m.author_id == bot.bot_id and m.text.strip() == text.strip():
                return m.id
        return None


_FILE_MARK = {"ru": "файл", "en": "file"}

# k<n>: a knowledge chunk; x<n>: an operator's correction (supervision).
_CITATION = re.compile(r"\s*\[([kx]\d+)\]")


def take_citations(reply: str, passages: Sequence[Passage]) -> tuple[str, tuple[str, ...]]:
    """The reply without the ``[k12]`` markers of passages it was given, and those passages' sources in
    the order cited. Markers of ids it was not given stay (the model made them up: visible, not stored)."""
    by_id = {p.id: p.source or p.title for p in passages}
    cited: list[str] = []

    def drop(m: re.Match[str]) -> str:
        source = by_id.get(m.group(1))
        if source is None:
            return m.group(0)
        if source not in cited:
            cited.append(source)
        return ""

    text = _CITATION.sub(drop, reply).strip()
    return re.sub(r"[ \t]{2,}", " ", text), tuple(cited)


def _opaque(member_id: str, user_id: int) -> str:
    return hashlib.sha256(f"{member_id}:{user_id}".encode()).hexdigest()[:32]


def _fallback(language: str) -> str:
    if language == "en":
        return "Thank you! A specialist will get back to you shortly."
    return "Спасибо! Специалист скоро свяжется с вами."
