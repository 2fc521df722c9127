"""The answer to a customer's message: context, Claude, reply, history — once per message.

Effects are recorded against the inbox row that caused them (DESIGN.md §7): the reply is an
intent (with the generated text) before it is sent and done after, so a replay after a crash
neither asks Claude again nor answers twice; an intent without a result is checked against the
chat's latest messages before it is sent again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from b24claude.conversations.prompt import build_system_prompt
from b24claude.dispatch import Context
from b24claude.events.models import IncomingMessage
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, ChatGateway, ClientCard, CrmGateway, CrmRefs
from b24claude.ports.cache import Cache
from b24claude.ports.knowledge import KnowledgeSource
from b24claude.ports.llm import LLM, ChatTurn, LLMRequest
from b24claude.ports.store import DialogueRepository, EffectRepository, LedgerEntry, LedgerRepository, Turn

log = logging.getLogger("b24claude.conversations")

_PHONE = re.compile(r"(?:\+7|\b8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
CARD_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    persona: str
    company: str
    default_language: str = "ru"
    history_turns: int = 10
    max_tokens: int = 1024
    model: str | None = None


class AnswerService:
    def __init__(
        self,
        *,
        llm: LLM,
        crm: CrmGateway,
        chat: ChatGateway,
        dialogues: DialogueRepository,
        effects: EffectRepository,
        ledger: LedgerRepository,
        knowledge: KnowledgeSource,
        cache: Cache,
        clock: Clock,
        config: AnswerConfig,
    ) -> None:
        self._llm = llm
        self._crm = crm
        self._chat = chat
        self._dialogues = dialogues
        self._effects = effects
        self._ledger = ledger
        self._knowledge = knowledge
        self._cache = cache
        self._clock = clock
        self._cfg = config

    @staticmethod
    def should_answer(msg: IncomingMessage, ctx: Context) -> bool:
        """Our own messages, other bots, system messages, empty texts and operators in Open Lines are not
        answered."""
        if msg.is_system or msg.author_is_bot or not msg.text.strip():
            return False
        if msg.author_id == msg.bot_id or (ctx.portal.bot_id and msg.author_id == ctx.portal.bot_id):
            return False
        return not (msg.is_open_line and not msg.author_is_connector)

    async def answer(self, msg: IncomingMessage, ctx: Context) -> None:
        bot = BotIdentity(msg.bot_id or (ctx.portal.bot_id or 0), ctx.portal.bot_code, msg.bot_api)
        effect = await self._effects.get(ctx.inbox_id, "reply")
        if effect is not None and effect.status == "done":
            return
        await self._dialogues.append(
            msg.member_id, msg.dialog_key, Turn("user", msg.text, msg.message_id, self._clock.now())
        )
        if effect is not None:  # intent recorded, result unknown: did the send happen before the crash?
            text = str(effect.payload.get("text", ""))
            if await self._already_sent(msg, bot, text):
                await self._finish(msg, ctx, message_id=None, text=text)
                return
        else:
            text = await self._generate(msg, ctx)
            await self._effects.record_intent(
                ctx.inbox_id, "reply", {"text": text, "dialog_id": msg.dialog_id}
            )
        message_id = await self._chat.send_message(msg.member_id, bot, dialog_id=msg.dialog_id, text=text)
        await self._finish(msg, ctx, message_id=message_id, text=text)

    async def _finish(self, msg: IncomingMessage, ctx: Context, *, message_id: int | None, text: str) -> None:
        await self._effects.record_done(ctx.inbox_id, "reply", {"message_id": message_id})
        await self._dialogues.append(
            msg.member_id, msg.dialog_key, Turn("assistant", text, message_id, self._clock.now())
        )

    async def _already_sent(self, msg: IncomingMessage, bot: BotIdentity, text: str) -> bool:
        recent = await self._chat.recent_messages(msg.member_id, bot, dialog_id=msg.dialog_id, limit=20)
        return any(m.author_id == bot.bot_id and m.text.strip() == text.strip() for m in recent)

    async def _generate(self, msg: IncomingMessage, ctx: Context) -> str:
        card = await self.client_card(msg)
        history = await self._dialogues.last_turns(
            msg.member_id, msg.dialog_key, limit=self._cfg.history_turns
        )
        turns = [ChatTurn(t.role, t.text) for t in history]
        if not turns or turns[-1].role != "user" or turns[-1].text != msg.text:
            turns.append(ChatTurn("user", msg.text))
        passages = await self._knowledge.search(msg.member_id, msg.text, limit=3)
        language = _language(msg.text, self._cfg.default_language)
        system = build_system_prompt(
            persona=self._cfg.persona,
            company=self._cfg.company,
            card=card,
            passages=passages,
            language=language,
            author_name=msg.author_name,
        )
        result = await self._llm.complete(
            LLMRequest(
                system=system,
                messages=turns,
                max_tokens=self._cfg.max_tokens,
                model=self._cfg.model,
                feature="answer",
                metadata_user_id=_opaque(msg.member_id, msg.author_id),
            )
        )
        ctx.extras["llm_latency_s"] = result.latency_s  # for timing middlewares (benchmarks, metrics)
        u = result.usage
        await self._ledger.add(
            LedgerEntry(
                member_id=msg.member_id,
                feature="answer",
                model=result.model,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_creation_input_tokens=u.cache_creation_input_tokens,
                cache_read_input_tokens=u.cache_read_input_tokens,
                cost_usd=result.cost_usd,
                latency_s=result.latency_s,
                dialog_key=msg.dialog_key,
                request_id=result.request_id,
                inbox_id=ctx.inbox_id,
            )
        )
        text = result.text.strip()
        return text or _fallback(language)

    async def client_card(self, msg: IncomingMessage) -> ClientCard | None:
        """The CRM card behind the chat, loaded once per dialogue and reused (cache) afterwards."""
        key = f"card:{msg.member_id}:{msg.dialog_key}"
        cached = await self._cache.get(key)
        if isinstance(cached, ClientCard):
            return cached
        refs = msg.crm_refs
        if refs.is_empty() and msg.is_open_line and msg.chat_id:
            refs = await self._crm.openlines_refs(msg.member_id, msg.chat_id)
        if refs.is_empty():
            refs = await self._find_by_text(msg)
        if refs.is_empty():
            return None
        card = await self._crm.load_client(msg.member_id, refs)
        await self._cache.set(key, card, ttl_s=CARD_TTL_S)
        return card

    async def _find_by_text(self, msg: IncomingMessage) -> CrmRefs:
        if m := _PHONE.search(msg.text):
            return await self._crm.find_by_comm(msg.member_id, phone=m.group(0))
        if m := _EMAIL.search(msg.text):
            return await self._crm.find_by_comm(msg.member_id, email=m.group(0))
        return CrmRefs()


def _language(text: str, default: str) -> str:
    """The customer's language from their own words: Cyrillic → ru, Latin only → en."""
    if re.search("[а-яёА-ЯЁ]", text):
        return "ru"
    if re.search("[a-zA-Z]{2,}", text):
        return "en"
    return default


def _opaque(member_id: str, user_id: int) -> str:
    return hashlib.sha256(f"{member_id}:{user_id}".encode()).hexdigest()[:32]


def _fallback(language: str) -> str:
    if language == "en":
        return "Thank you! A specialist will get back to you shortly."
    return "Спасибо! Специалист скоро свяжется с вами."
