"""The bot as the portal's admin set it on the app page (persona, company, lines, language), and the
field-by-field checks of a change to it (the page's service is ``b24claude.admin.settings``).

A change names only the fields it changes (``{"bot": {"company_name": "…"}, "privacy":
{"retention": {"inbox_days": 7}}}``); every other field keeps its stored value — nothing is reset
to a default because it was left out. Each field is checked on its own and a bad one is reported by
name (:class:`~b24claude.errors.InvalidFields`), so the page can say what is wrong next to it;
nothing is stored unless every field passes. Stored as ``Portal.settings["bot"]`` and
``["privacy"]``, with an audit record of the before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from b24claude.errors import InvalidFields

log = logging.getLogger("b24claude.conversations.settings")

BOT_KEY = "bot"
LANGUAGES = ("ru", "en")
MAX_PERSONA = 4000
MAX_COMPANY = 200
MAX_DAYS = 36_500
MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class BotSettings:
    """The bot as this portal's admin set it; "" = the deployment's default (B24C_PERSONA, …)."""

    persona: str = ""
    company_name: str = ""
    default_language: str = ""  # the reply language when the message does not tell
    all_lines: bool = True  # answer in every Open Line, else only in ``line_ids``
    line_ids: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> BotSettings:
        raw = (settings or {}).get(BOT_KEY)
        if not isinstance(raw, Mapping):
            return cls()
        try:
            return _apply_bot(cls(), raw)
        except InvalidFields:
            return cls()  # stored by an older version in another shape: the defaults, not a crash

    def answers_line(self, line_id: int | None) -> bool:
        return self.all_lines or (line_id is not None and line_id in self.line_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "persona": self.persona,
            "company_name": self.company_name,
            "default_language": self.default_language,
            "all_lines": self.all_lines,
            "line_ids": sorted(self.line_ids),
        }


def _text(errors: dict[str, str], name: str, value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        errors[name] = "not_text"
        return None
    text = str(value).strip()
    if len(text) > limit:
        errors[name] = "too_long"
        return None
    return text


def _flag(errors: dict[str, str], name: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        errors[name] = "not_boolean"
        return None
    return value


def _unknown(errors: dict[str, str], prefix: str, raw: Mapping[str, Any], known: Sequence[str]) -> None:
    for name in raw:
        if name not in known:
            errors[f"{prefix}.{name}"] = "unknown_field"


def _apply_bot(
    current: BotSettings, raw: Mapping[str, Any], known_lines: set[int] | None = None
) -> BotSettings:
    errors: dict[str, str] = {}
    _unknown(errors, "bot", raw, list(BotSettings.__dataclass_fields__))
    values: dict[str, Any] = {}
    if "persona" in raw and (v := _text(errors, "bot.persona", raw["persona"], MAX_PERSONA)) is not None:
        values["persona"] = v
    if (
        "company_name" in raw
        and (v := _text(errors, "bot.company_name", raw["company_name"], MAX_COMPANY)) is not None
    ):
        values["company_name"] = v
    if "default_language" in raw:
        lang = raw["default_language"]
        if lang not in ("", *LANGUAGES):
            errors["bot.default_language"] = "choice"
        else:
            values["default_language"] = lang
    if "all_lines" in raw and (flag := _flag(errors, "bot.all_lines", raw["all_lines"])) is not None:
        values["all_lines"] = flag
    if "line_ids" in raw:
        ids = raw["line_ids"]
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_LINES
            or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
        ):
            errors["bot.line_ids"] = "not_lines"
        elif known_lines is not None and not set(ids) <= known_lines:
            errors["bot.line_ids"] = "unknown_line"
        else:
            values["line_ids"] = frozenset(ids)
    if errors:
        raise InvalidFields(errors)
    result = replace(current, **values)
    if not result.all_lines and not result.line_ids:
        raise InvalidFields({"bot.line_ids": "required"})
    return result
