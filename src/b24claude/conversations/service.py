"""The answer to a customer's message: context, Claude, reply, history — once per message.

Effects are recorded against the inbox row that caused them (DESIGN.md §7): the reply is an
intent (with the generated text) before it is sent and done after, so a replay after a crash
neither asks Claude again nor answers twice; an intent without a result is checked against the
chat's latest messages before it is sent again.

Privacy (DESIGN.md §2 step 3): the customer's text, the CRM card and the author's name are
pseudonymised per dialogue before anything is stored, cached or sent to Claude; history turns,
effect payloads and the card cache hold placeholders only. Real values are restored for Bitrix24
alone: the reply the customer reads and the contact details written to the CRM card.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b24claude.conversations.failover import Failover, alert_user_ids, prepared_reply
from b24claude.conversations.prompt import build_system_blocks, join_blocks
from b24claude.dispatch import Context
from b24claude.errors import Bitrix24Error, LLMError
from b24claude.events.models import IncomingMessage
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, ChatGateway, ClientCard, CrmGateway, CrmRefs
from b24claude.ports.cache import Cache
from b24claude.ports.knowledge import KnowledgeSource, Passage
from b24claude.ports.llm import LLM, ChatTurn, LLMRequest
from b24claude.ports.privacy import ConsentRepository, DialogueSubject, SubjectRepository
from b24claude.ports.store import DialogueRepository, EffectRepository, LedgerEntry, LedgerRepository, Turn
from b24claude.privacy.normalise import normalise
from b24claude.privacy.policy import PrivacyPolicy, client_key
from b24claude.privacy.pseudonymise import DialogueMask, Pseudonymiser, placeholders_in, type_of

log = logging.getLogger("b24claude.conversations")

CARD_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    persona: str
    company: str
    default_language: str = "ru"
    history_turns: int = 10
    max_tokens: int = 1024
    model: str | None = None
    capture_contacts: bool = True  # write phones/e-mails the customer gives into the bound CRM card


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
        pseudonymiser: Pseudonymiser,
        consents: ConsentRepository,
        subjects: SubjectRepository,
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
        self._pseudo = pseudonymiser
        self._consents = consents
        self._subjects = subjects
        self._failover = Failover(chat=chat, effects=effects)

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
            # Answered before a crash; the reply's history turn, a handoff or the CRM write after the
            # reply may still be owed. The turn must be in place before this row is marked done: the
            # dialogue's next message is built from the history, and without the reply between the two
            # questions Claude would see both as one (and answer the older one again).
            await self._restore_reply_turn(msg, effect.payload, effect.result)
            mask = await self.open_mask(msg, ctx)
            await self._resume_failover(msg, ctx, _language(msg.text, self._cfg.default_language))
            await self._capture_contacts(msg, ctx, mask, mask.mask(msg.text), None)
            return
        mask = await self.open_mask(msg, ctx)
        masked = mask.mask(msg.text)
        await mask.save()  # placeholders are durable before any masked text is stored or sent
        await self._dialogues.append(
            msg.member_id, msg.dialog_key, Turn("user", masked, msg.message_id, self._clock.now())
        )
        language = _language(msg.text, self._cfg.default_language)
        card: ClientCard | None = None
        if effect is not None:  # intent recorded, result unknown: did the send happen before the crash?
            masked_reply = str(effect.payload.get("text", ""))
            citations = tuple(str(c) for c in effect.payload.get("citations") or ())
            sent_id = await self._already_sent(msg, bot, mask.unmask(masked_reply, language=language))
            if sent_id is not None:
                await self._finish(
                    msg, ctx, message_id=sent_id, masked_reply=masked_reply, citations=citations
                )
                await self._resume_failover(msg, ctx, language)
                await self._capture_contacts(msg, ctx, mask, masked, None)
                return
        else:
            try:
                masked_reply, card, citations = await self._generate(msg, ctx, mask, masked, language)
            except LLMError as exc:
                # Claude is down, over budget or refused: a prepared reply now, then a human (failover.py).
                await self._failover.begin(ctx.inbox_id, exc)
                masked_reply, card, citations = prepared_reply(language, open_line=msg.is_open_line), None, ()
            await mask.save()
            await self._effects.record_intent(
                ctx.inbox_id,
                "reply",
                {"text": masked_reply, "dialog_id": msg.dialog_id, "citations": list(citations)},
            )
        text = mask.unmask(masked_reply, language=language)
        message_id = await self._chat.send_message(msg.member_id, bot, dialog_id=msg.dialog_id, text=text)
        await self._finish(msg, ctx, message_id=message_id, masked_reply=masked_reply, citations=citations)
        await self._resume_failover(msg, ctx, language)
        # Only pseudonymised text is ever handed to a logger; the log processor drops even that unless
        # the portal's admin turned text logging on.
        log.info(
            "conversation.answered",
            extra={
                "member_id": msg.member_id,
                "dialog_key": msg.dialog_key,
                "inbox_id": ctx.inbox_id,
                "text": masked,
                "reply": masked_reply,
            },
        )
        await self._capture_contacts(msg, ctx, mask, masked, card)

    async def _resume_failover(self, msg: IncomingMessage, ctx: Context, language: str) -> None:
        reason = await self._failover.pending(ctx.inbox_id)
        if reason is not None:
            await self._failover.finish(
                msg,
                ctx.inbox_id,
                reason=reason,
                language=language,
                alert_user_ids=alert_user_ids(ctx.portal.settings),
            )

    async def open_mask(self, msg: IncomingMessage, ctx: Context) -> DialogueMask:
        """The dialogue's pseudonyms, masking what the portal's policy (and the client's consent) says."""
        policy = PrivacyPolicy.from_settings(ctx.portal.settings)
        consent = (
            await self._consents.get(msg.member_id, client_key(msg.author_id))
            if policy.respect_consent
            else None
        )
        return await self._pseudo.open(msg.member_id, msg.dialog_key, policy.types_for(consent))

    async def _finish(
        self,
        msg: IncomingMessage,
        ctx: Context,
        *,
        message_id: int | None,
        masked_reply: str,
        citations: tuple[str, ...] = (),
    ) -> None:
        # The history turn first, then the effect: a crash between the two leaves an intent, whose
        # replay finds the sent message (same id: the turn is stored once) and records it done.
        await self._dialogues.append(
            msg.member_id,
            msg.dialog_key,
            Turn("assistant", masked_reply, message_id, self._clock.now(), citations=citations),
        )
        await self._effects.record_done(ctx.inbox_id, "reply", {"message_id": message_id})

    async def _restore_reply_turn(
        self, msg: IncomingMessage, payload: Mapping[str, Any], result: Mapping[str, Any] | None
    ) -> None:
        """The reply's assistant turn, for a reply effect recorded done by an earlier run (a no-op when
        that run stored it: the turn is keyed by the reply's message id)."""
        message_id = (result or {}).get("message_id")
        if not isinstance(message_id, int) or "text" not in payload:
            return  # no id to store it once under (rows answered before ids were kept)
        citations = tuple(str(c) for c in payload.get("citations") or ())
        await self._dialogues.append(
            msg.member_id,
            msg.dialog_key,
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

    async def _generate(
        self, msg: IncomingMessage, ctx: Context, mask: DialogueMask, masked: str, language: str
    ) -> tuple[str, ClientCard | None, tuple[str, ...]]:
        """Claude's reply, with placeholders in it (as the model saw the dialogue), the masked card, and the
        sources of the passages the reply cites (their ``[id]`` markers are taken out of the text)."""
        card = await self.client_card(msg, mask)
        history = await self._dialogues.last_turns(
            msg.member_id, msg.dialog_key, limit=self._cfg.history_turns
        )
        turns = [ChatTurn(t.role, t.text) for t in history]
        if not turns or turns[-1].role != "user" or turns[-1].text != masked:
            turns.append(ChatTurn("user", masked))
        passages = await self._knowledge.search(msg.member_id, masked, limit=3)
        blocks = build_system_blocks(
            persona=self._cfg.persona,
            company=self._cfg.company,
            card=card,
            passages=passages,
            language=language,
            author_name=mask.mask_name(msg.author_name),
        )
        await mask.save()
        result = await self._llm.complete(
            LLMRequest(
                system=join_blocks(blocks),
                system_blocks=blocks,
                messages=turns,
                max_tokens=self._cfg.max_tokens,
                model=self._cfg.model,
                feature="answer",
                metadata_user_id=_opaque(msg.member_id, msg.author_id),
                member_id=msg.member_id,
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
        text, citations = take_citations(result.text, passages)
        return (text or _fallback(language)), card, citations

    async def _capture_contacts(
        self, msg: IncomingMessage, ctx: Context, mask: DialogueMask, masked: str, card: ClientCard | None
    ) -> None:
        """Phones and e-mails the customer wrote go into the bound CRM card (real values, once)."""
        if not self._cfg.capture_contacts:
            return
        wanted = [(type_of(ph), mask.value_of(ph)) for ph in placeholders_in(masked)]
        if not any(t in ("phone", "email") for t, _ in wanted):
            wanted += [(s.type, s.value) for s in self._pseudo.detector.detect(msg.text, ("phone", "email"))]
        if not any(t in ("phone", "email") for t, _ in wanted):
            return
        done = await self._effects.get(ctx.inbox_id, "crm_contacts")
        if done is not None and done.status == "done":
            return
        if done is not None:  # an update may have happened before a crash: compare with the CRM as it is now
            await self._cache.delete(self._card_key(msg, mask))
            card = None
        card = card or await self.client_card(msg, mask)
        if card is None or not (card.refs.contact_id or card.refs.lead_id):
            return
        known = {("phone", normalise("phone", mask.value_of(p) or p)) for p in card.phones}
        known |= {("email", normalise("email", mask.value_of(e) or e)) for e in card.emails}
        phones: list[str] = []
        emails: list[str] = []
        for pii_type, value in wanted:
            if value is None or pii_type not in ("phone", "email"):
                continue
            key = (pii_type, normalise(pii_type, value))
            if key in known:
                continue
            known.add(key)
            (phones if pii_type == "phone" else emails).append(value)
        if not phones and not emails:
            if done is not None:  # the update before the crash had gone through
                await self._effects.record_done(ctx.inbox_id, "crm_contacts", {"entity": "", "already": True})
            return
        await self._effects.record_intent(
            ctx.inbox_id, "crm_contacts", {"phones": len(phones), "emails": len(emails)}
        )
        entity = await self._crm.add_contact_details(msg.member_id, card.refs, phones=phones, emails=emails)
        await self._effects.record_done(ctx.inbox_id, "crm_contacts", {"entity": entity})
        await self._cache.delete(self._card_key(msg, mask))

    def _card_key(self, msg: IncomingMessage, mask: DialogueMask) -> str:
        types = ",".join(sorted(mask.types))
        return f"card:{msg.member_id}:{msg.dialog_key}:{hashlib.sha1(types.encode()).hexdigest()[:8]}"

    async def client_card(self, msg: IncomingMessage, mask: DialogueMask) -> ClientCard | None:
        """The CRM card behind the chat, masked, loaded once per dialogue and reused (cache) afterwards.

        Only the masked card is cached; the placeholders it uses are saved with the dialogue's vault.
        """
        key = self._card_key(msg, mask)
        cached = await self._cache.get(key)
        if isinstance(cached, ClientCard):
            return cached
        try:
            card, refs = await self._read_card(msg)
        except Bitrix24Error as exc:
            # The customer still gets an answer, without what the CRM would have added (DESIGN §2);
            # nothing is cached, so the next message tries the CRM again.
            log.warning(
                "conversation.context_read_failed",
                extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "code": exc.code},
            )
            return None
        bound = card.refs if card is not None else refs
        await self._subjects.bind(
            DialogueSubject(
                member_id=msg.member_id,
                dialog_key=msg.dialog_key,
                author_id=msg.author_id,
                contact_id=bound.contact_id,
                lead_id=bound.lead_id,
                company_id=bound.company_id,
            )
        )
        if card is None:
            return None
        masked = mask.mask_card(card)
        await mask.save()
        await self._cache.set(key, masked, ttl_s=CARD_TTL_S)
        return masked

    async def _read_card(self, msg: IncomingMessage) -> tuple[ClientCard | None, CrmRefs]:
        refs = msg.crm_refs
        if refs.is_empty() and msg.is_open_line and msg.chat_id:
            refs = await self._crm.openlines_refs(msg.member_id, msg.chat_id)
        if refs.is_empty():
            refs = await self._find_by_text(msg)
        card = None if refs.is_empty() else await self._crm.load_client(msg.member_id, refs)
        return card, refs

    async def _find_by_text(self, msg: IncomingMessage) -> CrmRefs:
        """A phone or e-mail in the customer's own words, looked up in the CRM (real values: Bitrix24)."""
        for span in self._pseudo.detector.detect(msg.text, ("phone", "email")):
            if span.type == "phone":
                return await self._crm.find_by_comm(msg.member_id, phone=span.value)
            return await self._crm.find_by_comm(msg.member_id, email=span.value)
        return CrmRefs()


_CITATION = re.compile(r"\s*\[(k\d+)\]")


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
