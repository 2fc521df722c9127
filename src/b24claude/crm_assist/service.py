"""The CRM card behind a chat (loaded once per dialogue, masked, cached) and the contact details the
customer wrote, written into it (real values, once per message: an effect of the inbox row)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from b24claude.dispatch import RowEffects
from b24claude.errors import Bitrix24Error
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import ClientCard, CrmGateway, CrmRefs
from b24claude.ports.cache import Cache
from b24claude.ports.privacy import DialogueSubject, Mask, PiiType, SubjectRepository

log = logging.getLogger("b24claude.conversations")

CARD_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class CachedCard:
    """A masked card in the cache, with the mask types it was masked for (they must match)."""

    types_tag: str
    card: ClientCard


@dataclass(frozen=True, slots=True)
class CrmAssistConfig:
    capture_contacts: bool = True  # write phones/e-mails the customer gives into the bound CRM card


class ClientCards:
    def __init__(
        self, *, crm: CrmGateway, cache: Cache, subjects: SubjectRepository, config: CrmAssistConfig
    ) -> None:
        self._crm = crm
        self._cache = cache
        self._subjects = subjects
        self._cfg = config

    @staticmethod
    def _card_key(member_id: str, dialog_key: str) -> str:
        # One key per dialogue (so a CRM change can drop it); the mask's types are kept beside the
        # card and must match, since the card is cached masked.
        return f"card:{member_id}:{dialog_key}"

    @staticmethod
    def _types_tag(mask: Mask) -> str:
        return hashlib.sha1(",".join(sorted(mask.types)).encode()).hexdigest()[:8]

    async def forget_entity(self, member_id: str, entity: str, entity_id: int) -> int:
        """A CRM record changed (an offline event): the cached cards of the dialogues bound to it
        are dropped, so their next message reads the card as it is now. Returns how many."""
        if entity == "contact":
            dialogues = await self._subjects.dialogues_of(member_id, contact_id=entity_id)
        elif entity == "lead":
            dialogues = await self._subjects.dialogues_of(member_id, lead_id=entity_id)
        elif entity == "company":
            dialogues = await self._subjects.dialogues_of(member_id, company_id=entity_id)
        else:
            return 0
        for dialog_key in dialogues:
            await self._cache.delete(self._card_key(member_id, dialog_key))
        log.info(
            "crm_assist.card.invalidated",
            extra={"member_id": member_id, "entity": entity, "entity_id": entity_id, "count": len(dialogues)},
        )
        return len(dialogues)

    async def client_card(self, msg: IncomingMessage, mask: Mask) -> ClientCard | None:
        """The CRM card behind the chat, masked, loaded once per dialogue and reused (cache) afterwards.

        Only the masked card is cached; the placeholders it uses are saved with the dialogue's vault.
        """
        key = self._card_key(msg.member_id, msg.dialog_key)
        cached = await self._cache.get(key)
        if isinstance(cached, CachedCard) and cached.types_tag == self._types_tag(mask):
            return cached.card
        try:
            card, refs = await self._read_card(msg, mask)
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
        await self._cache.set(key, CachedCard(self._types_tag(mask), masked), ttl_s=CARD_TTL_S)
        return masked

    async def _read_card(self, msg: IncomingMessage, mask: Mask) -> tuple[ClientCard | None, CrmRefs]:
        refs = msg.crm_refs
        if refs.is_empty() and msg.is_open_line and msg.chat_id:
            refs = await self._crm.openlines_refs(msg.member_id, msg.chat_id)
        if refs.is_empty():
            refs = await self._find_by_text(msg, mask)
        card = None if refs.is_empty() else await self._crm.load_client(msg.member_id, refs)
        return card, refs

    async def _find_by_text(self, msg: IncomingMessage, mask: Mask) -> CrmRefs:
        """A phone or e-mail in the customer's own words, looked up in the CRM (real values: Bitrix24)."""
        for pii_type, value in mask.contacts("", msg.text):
            if pii_type == "phone":
                return await self._crm.find_by_comm(msg.member_id, phone=value)
            return await self._crm.find_by_comm(msg.member_id, email=value)
        return CrmRefs()

    async def capture_contacts(
        self,
        msg: IncomingMessage,
        effects: RowEffects,
        mask: Mask,
        *,
        masked: str,
        raw: str,
        card: ClientCard | None,
    ) -> None:
        """Phones and e-mails the customer wrote go into the bound CRM card (real values, once)."""
        if not self._cfg.capture_contacts:
            return
        wanted = mask.contacts(masked, raw)
        if not wanted:
            return
        done = await effects.get("crm_contacts")
        if done is not None and done.status == "done":
            return
        if done is not None:  # an update may have happened before a crash: compare with the CRM as it is now
            await self._cache.delete(self._card_key(msg.member_id, msg.dialog_key))
            card = None
        card = card or await self.client_card(msg, mask)
        if card is None or not (card.refs.contact_id or card.refs.lead_id):
            return
        known: set[tuple[PiiType, str]] = {
            ("phone", mask.contact_key("phone", mask.value_of(p) or p)) for p in card.phones
        }
        known |= {("email", mask.contact_key("email", mask.value_of(e) or e)) for e in card.emails}
        phones: list[str] = []
        emails: list[str] = []
        for pii_type, value in wanted:
            key = (pii_type, mask.contact_key(pii_type, value))
            if key in known:
                continue
            known.add(key)
            (phones if pii_type == "phone" else emails).append(value)
        if not phones and not emails:
            if done is not None:  # the update before the crash had gone through
                await effects.done("crm_contacts", {"entity": "", "already": True})
            return
        await effects.intent("crm_contacts", {"phones": len(phones), "emails": len(emails)})
        entity = await self._crm.add_contact_details(msg.member_id, card.refs, phones=phones, emails=emails)
        await effects.done("crm_contacts", {"entity": entity})
        await self._cache.delete(self._card_key(msg.member_id, msg.dialog_key))
