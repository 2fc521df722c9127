"""PII through the whole loop: nothing real reaches Claude, the logs or the caches; Bitrix24 gets it back."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import answer_requests, bot_replies

NEW_PHONE = "+7 (925) 111-22-33"
NEW_EMAIL = "anna.new@example.com"
PASSPORT = "4510 123456"
CARD = "2200 7001 2345 6781"  # Mir, valid Luhn
INN = "770708389324"
SNILS = "112-233-445 95"
ADDRESS = "г. Москва, ул. Ленина, д. 5, кв. 12"

MESSAGES = [
    f"Здравствуйте! Меня зовут Анна Смирнова. Мой новый номер {NEW_PHONE}, почта {NEW_EMAIL}. "
    "Сколько стоит доставка?",
    f"паспорт {PASSPORT}, оплачу картой {CARD}. ИНН {INN}, СНИЛС {SNILS}, доставка на {ADDRESS}",
]
# Every form a leak could take: as written, digits only, and what the CRM card holds for Anna.
SECRETS = [
    NEW_PHONE,
    "9251112233",
    "111-22-33",
    NEW_EMAIL,
    PASSPORT,
    "4510123456",
    CARD,
    "2200700123456781",
    INN,
    SNILS,
    "11223344595",
    "Ленина",
    "Смирнова",
    "Анна",
    "Анну",
    "Анне",
    "916) 123-45-67",
    "9161234567",
    "anna.smirnova@mail.ru",
]


def leaks(blob: str) -> list[str]:
    digits = "".join(ch for ch in blob if ch.isdigit())
    found = [s for s in SECRETS if s in blob]
    found += [s for s in SECRETS if s.isdigit() and len(s) >= 10 and s in digits]
    return sorted(set(found))


def everything(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


async def effect_of(container: Any, kind: str) -> Any:
    async with container.store.engine.connect() as conn:
        inbox_id = (
            await conn.execute(text("SELECT inbox_id FROM effects WHERE kind = :k"), {"k": kind})
        ).scalar_one_or_none()
    return None if inbox_id is None else await container.store.effects.get(inbox_id, kind)


def log_files_text(root: Path) -> str:
    return "".join(p.read_text() for p in sorted(root.rglob("*.jsonl")))


def last_customer_turn(stack: SandboxStack) -> str:
    """The newest customer message as Claude received it."""
    call = [r for r in stack.claude.requests if r.path == "/v1/messages"][-1]
    return everything(call.body["messages"][-1])


@pytest.mark.e2e
async def test_pii_never_reaches_claude_logs_or_caches_but_bitrix24_gets_it_back(
    stack: SandboxStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await stack.ask(MESSAGES[0], "anna")
    second = await stack.ask(MESSAGES[1], "anna")
    assert stack.container is not None

    # 1. Claude saw placeholders only — in the system prompt, the history and the new message.
    calls = answer_requests(stack)
    assert len(calls) == 2
    sent = everything([c.body for c in calls])
    assert leaks(sent) == []
    assert "[ТЕЛЕФОН_1]" in sent and "[EMAIL_1]" in sent and "[ИМЯ_1]" in sent
    for label in ("ПАСПОРТ", "КАРТА", "ИНН", "СНИЛС", "АДРЕС"):
        assert f"[{label}_1]" in everything(calls[1].body["messages"][-1])

    # 2. The customer read real values: her name and the number she gave, restored from placeholders.
    assert "Анна" in first and NEW_PHONE in first and NEW_EMAIL in first
    assert "[" not in first + second
    chat = stack.portal.find_chat("anna")
    assert chat is not None
    assert len(bot_replies(stack, chat.id)) == 2

    # 3. The CRM card got the real new phone and e-mail (and nothing else was invented).
    updates = [w for w in stack.portal.crm_writes if w.method == "crm.contact.update"]
    assert len(updates) == 1
    written = everything(updates[0].fields)
    assert NEW_PHONE in written and NEW_EMAIL in written and "[ТЕЛЕФОН" not in written

    # 4. Logs of the whole run carry none of it.
    records = everything(
        [(r.getMessage(), {k: v for k, v in r.__dict__.items() if k != "args"}) for r in caplog.records]
    )
    assert caplog.records and leaks(records) == []

    # 5. Caches: the card cache holds the masked card only.
    cache = stack.container.shared.cache  # the in-process cache the card service was built with
    snapshot = everything(cache.snapshot())  # type: ignore[attr-defined]
    assert "ИМЯ_" in snapshot and leaks(snapshot) == []

    # 6. Stores: history, effects and the ledger hold placeholders; the vault holds the values, not in clear.
    for _ in range(300):  # the reply is visible a moment before its turn is recorded
        if (await stack.container.store.inbox.counts()).get("done", 0) >= 2:
            break
        await asyncio.sleep(0.05)
    async with stack.container.store.engine.connect() as conn:
        turns = (await conn.execute(text("SELECT text FROM dialogue_turns"))).scalars().all()
        effects = (await conn.execute(text("SELECT payload, result FROM effects"))).all()
        ledger = (await conn.execute(text("SELECT * FROM llm_ledger"))).all()
        vault = (await conn.execute(text("SELECT pii_type, value FROM pii_vault"))).all()
    assert len(turns) == 4 and leaks(everything(list(turns))) == []
    assert leaks(everything([tuple(r) for r in effects])) == []
    assert leaks(everything([tuple(r) for r in ledger])) == []
    assert {r.pii_type for r in vault} >= {
        "phone",
        "email",
        "name",
        "passport",
        "card",
        "inn",
        "snils",
        "address",
    }
    assert leaks(everything([tuple(r) for r in vault])) == []  # encrypted at rest


@pytest.mark.e2e
async def test_policy_without_phone_masking_sends_phones_but_still_masks_documents(
    stack: SandboxStack,
) -> None:
    from b24claude.privacy.policy import PrivacyPolicy

    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    policy = PrivacyPolicy(masked_types=frozenset({"passport", "card"}))
    await stack.container.store.portals.update_settings(stack.member_id, policy.merged_into(portal.settings))

    await stack.ask(f"мой номер {NEW_PHONE}, паспорт {PASSPORT}", "ivan")
    sent = everything([r.body for r in stack.claude.requests if r.path == "/v1/messages"])
    assert NEW_PHONE in sent and PASSPORT not in sent and "[ПАСПОРТ_1]" in sent


@pytest.mark.e2e
async def test_a_consenting_client_keeps_contacts_only_when_the_portal_respects_consent(
    stack: SandboxStack,
) -> None:
    from b24claude.privacy.policy import PrivacyPolicy, client_key

    assert stack.container is not None
    store = stack.container.store
    await stack.ask("Добрый день", "olga")  # the chat and its user exist from here on
    chat = stack.portal.find_chat("olga")
    assert chat is not None
    author = next(m["author_id"] for m in stack.portal.customer_view(chat.id) if not stack.is_bot(m))
    await store.consents.set(stack.member_id, client_key(int(author)), True, source="test")

    # Consent recorded, but the portal does not respect it (the default): still masked.
    await stack.ask(f"телефон {NEW_PHONE}, паспорт {PASSPORT}", "olga")
    last = last_customer_turn(stack)
    assert NEW_PHONE not in last and PASSPORT not in last

    portal = await store.portals.get(stack.member_id)
    assert portal is not None
    policy = PrivacyPolicy(respect_consent=True)
    await store.portals.update_settings(stack.member_id, policy.merged_into(portal.settings))
    await stack.ask(f"ещё раз: телефон {NEW_PHONE}, паспорт {PASSPORT}", "olga")
    last = last_customer_turn(stack)
    assert NEW_PHONE in last  # consented contact details may reach the model
    assert PASSPORT not in last and "[ПАСПОРТ_1]" in last  # documents never do


@pytest.mark.e2e
async def test_logs_with_text_turned_on_still_carry_no_pii(stack: SandboxStack, tmp_path: Path) -> None:
    """The portal's admin allowed message text in logs: the records show placeholders, never values."""
    from b24claude.adapters.logs import configure_logging, reset_logging
    from b24claude.privacy.policy import PrivacyPolicy

    assert stack.container is not None
    store = stack.container.store
    portal = await store.portals.get(stack.member_id)
    assert portal is not None
    policy = PrivacyPolicy(log_message_text=True)
    await store.portals.update_settings(stack.member_id, policy.merged_into(portal.settings))
    await stack.container.log_text.refresh()
    stream = io.StringIO()
    settings = stack.settings.model_copy(update={"log_dir": str(tmp_path), "log_level": "DEBUG"})
    root_level = logging.getLogger().level
    configure_logging(
        settings,
        text_allowed=stack.container.log_text.allows,
        mask=stack.container.log_text.mask,
        stream=stream,
    )
    try:
        for text in MESSAGES:
            await stack.ask(text, "anna")
        for _ in range(100):
            if stream.getvalue().count('"conversation.answered"') >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        reset_logging()
        logging.getLogger().setLevel(root_level)
    written = stream.getvalue()
    files = log_files_text(tmp_path)
    answered = [json.loads(line) for line in written.splitlines() if '"conversation.answered"' in line]
    assert len(answered) == 2 and "[ТЕЛЕФОН_1]" in answered[0]["text"]  # text is there, masked
    assert (tmp_path / stack.member_id).is_dir() and '"conversation.answered"' in files
    assert leaks(written) == [] and leaks(files) == []


@pytest.mark.e2e
async def test_a_replay_after_a_crash_neither_answers_nor_writes_the_crm_twice(stack: SandboxStack) -> None:
    assert stack.container is not None
    container = stack.container
    await stack.ask(MESSAGES[0], "anna")
    chat = stack.portal.find_chat("anna")
    assert chat is not None
    for _ in range(100):
        captured = await effect_of(container, "crm_contacts")
        if captured is not None and captured.status == "done":
            break
        await asyncio.sleep(0.05)
    # The process died after the CRM update was sent but before it was recorded as done; the row replays.
    async with container.store.engine.begin() as conn:
        inbox_id = (
            await conn.execute(text("SELECT inbox_id FROM effects WHERE kind = 'crm_contacts'"))
        ).scalar_one()
        await conn.execute(text("UPDATE effects SET status = 'intent' WHERE kind = 'crm_contacts'"))
        await conn.execute(text("UPDATE inbox SET status = 'pending' WHERE id = :id"), {"id": inbox_id})
    container.worker.wake()
    for _ in range(200):
        item = await container.store.inbox.get(inbox_id)
        if item is not None and item.status == "done":
            break
        await asyncio.sleep(0.05)
    effect = await container.store.effects.get(inbox_id, "crm_contacts")
    assert effect is not None and effect.status == "done"
    assert len([w for w in stack.portal.crm_writes if w.method == "crm.contact.update"]) == 1
    assert len(bot_replies(stack, chat.id)) == 1
