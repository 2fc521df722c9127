"""The app page's settings model: partial changes, field-by-field reasons, the bot's lines, and the
page words complete in both languages."""

from __future__ import annotations

import pytest

from b24claude.admin.settings import _apply_privacy
from b24claude.api.i18n import TEXT, page_lang
from b24claude.api.pages import SECTIONS
from b24claude.conversations.app_settings import BotSettings, _apply_bot
from b24claude.conversations.handlers import should_answer
from b24claude.dispatch import Context
from b24claude.errors import InvalidFields
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import Portal
from b24claude.privacy.policy import PrivacyPolicy


def test_a_partial_privacy_change_keeps_every_other_field() -> None:
    current = PrivacyPolicy.from_dict({"masked_types": ["card", "phone"], "retention": {"logs_days": 9}})
    changed = _apply_privacy(current, {"retention": {"inbox_days": 7}, "respect_consent": True})
    assert changed.retention.inbox_days == 7 and changed.retention.logs_days == 9
    assert changed.masked_types == {"card", "phone"} and changed.respect_consent
    assert changed.consented_masked_types == current.consented_masked_types


def test_every_bad_field_is_named_with_its_reason() -> None:
    with pytest.raises(InvalidFields) as caught:
        _apply_privacy(
            PrivacyPolicy(),
            {"retention": {"inbox_days": 99999, "logs_days": "x", "weeks": 1}, "log_message_text": "yes"},
        )
    assert caught.value.fields == {
        "privacy.retention.inbox_days": "range",
        "privacy.retention.logs_days": "not_integer",
        "privacy.retention.weeks": "unknown_field",
        "privacy.log_message_text": "not_boolean",
    }
    with pytest.raises(InvalidFields) as bot:
        _apply_bot(BotSettings(), {"company_name": "x" * 201, "default_language": "de", "line_ids": [0]})
    assert bot.value.fields == {
        "bot.company_name": "too_long",
        "bot.default_language": "choice",
        "bot.line_ids": "not_lines",
    }


def test_lines_must_exist_and_at_least_one_is_needed_without_all_lines() -> None:
    with pytest.raises(InvalidFields) as unknown:
        _apply_bot(BotSettings(), {"all_lines": False, "line_ids": [1, 9]}, known_lines={1, 2})
    assert unknown.value.fields == {"bot.line_ids": "unknown_line"}
    with pytest.raises(InvalidFields) as none:
        _apply_bot(BotSettings(), {"all_lines": False})
    assert none.value.fields == {"bot.line_ids": "required"}
    chosen = _apply_bot(BotSettings(), {"all_lines": False, "line_ids": [2]}, known_lines={1, 2})
    assert chosen.answers_line(2) and not chosen.answers_line(1) and not chosen.answers_line(None)
    assert BotSettings().answers_line(None)


def _message(entity_id: str) -> IncomingMessage:
    return IncomingMessage(
        member_id="m",
        bot_id=7,
        bot_api="v1",
        message_id=1,
        dialog_id="chat5",
        chat_id=5,
        chat_type="L",
        author_id=501,
        text="Здравствуйте",
        author_is_connector=True,
        entity_type="LINES",
        entity_id=entity_id,
    )


def test_the_bot_answers_only_in_the_lines_the_admin_gave_it() -> None:
    settings = {"bot": {"all_lines": False, "line_ids": [2]}}
    ctx = Context(
        portal=Portal("m", "a.bitrix24.ru", PortalAuth("m", "https://a/rest/"), settings=settings), inbox_id=1
    )
    assert _message("livechat|2|5|501").line_id == 2
    assert should_answer(_message("livechat|2|5|501"), ctx)
    assert not should_answer(_message("livechat|1|5|501"), ctx)
    everywhere = Context(portal=Portal("m", "a.bitrix24.ru", PortalAuth("m", "https://a/rest/")), inbox_id=1)
    assert should_answer(_message("livechat|1|5|501"), everywhere)


def test_page_words_are_complete_in_russian_and_english() -> None:
    assert set(TEXT["ru"]) == set(TEXT["en"])
    assert all(TEXT[lang][key].strip() for lang in TEXT for key in TEXT[lang])
    assert all(s.title in TEXT["ru"] for s in SECTIONS)
    codes = {"too_long", "not_text", "not_integer", "range", "required", "unknown_line", "not_lines"}
    codes |= {"choice", "not_boolean", "not_types", "unknown_field", "bad_client_key"}
    assert {f"err_{c}" for c in codes} <= set(TEXT["en"])


@pytest.mark.parametrize(
    ("lang", "expected"), [("ru", "ru"), ("RU", "ru"), ("en", "en"), ("de", "en"), ("", "en")]
)
def test_other_portal_languages_fall_back_to_english(lang: str, expected: str) -> None:
    assert page_lang(lang) == expected
