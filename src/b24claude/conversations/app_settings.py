"""The settings an admin changes on the app page: the bot (persona, company, lines, language) and
the privacy policy, changed field by field.

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

from b24claude.errors import BadRequest, Forbidden, InvalidFields, Unauthorized
from b24claude.kit.clock import Clock
from b24claude.ports.privacy import PII_TYPES, AuditRecord, AuditRepository
from b24claude.ports.store import Portal, PortalRepository
from b24claude.privacy.policy import PrivacyPolicy, Retention

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


def _days(errors: dict[str, str], name: str, value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "not_integer"
        return None
    if not 0 <= value <= MAX_DAYS:
        errors[name] = "range"
        return None
    return int(value)


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


def _apply_privacy(current: PrivacyPolicy, raw: Mapping[str, Any]) -> PrivacyPolicy:
    errors: dict[str, str] = {}
    _unknown(errors, "privacy", raw, list(PrivacyPolicy.__dataclass_fields__))
    values: dict[str, Any] = {}
    for name in ("masked_types", "consented_masked_types"):
        if name in raw:
            types = raw[name]
            if not isinstance(types, list) or not all(isinstance(t, str) and t in PII_TYPES for t in types):
                errors[f"privacy.{name}"] = "not_types"
            else:
                values[name] = frozenset(types)
    for name in ("respect_consent", "log_message_text"):
        if name in raw and (flag := _flag(errors, f"privacy.{name}", raw[name])) is not None:
            values[name] = flag
    if "retention" in raw:
        retention = raw["retention"]
        if not isinstance(retention, Mapping):
            errors["privacy.retention"] = "not_object"
        else:
            _unknown(errors, "privacy.retention", retention, list(Retention.__dataclass_fields__))
            days = {
                k: d
                for k, v in retention.items()
                if k in Retention.__dataclass_fields__
                and (d := _days(errors, f"privacy.retention.{k}", v)) is not None
            }
            values["retention"] = replace(current.retention, **days)
    if errors:
        raise InvalidFields(errors)
    return replace(current, **values)


@dataclass(frozen=True, slots=True)
class SettingsView:
    bot: BotSettings
    privacy: PrivacyPolicy

    def to_dict(self) -> dict[str, Any]:
        return {"bot": self.bot.to_dict(), "privacy": self.privacy.to_dict()}


class AppSettingsService:
    def __init__(self, *, portals: PortalRepository, audit: AuditRepository, clock: Clock) -> None:
        self._portals = portals
        self._audit = audit
        self._clock = clock

    async def view(self, member_id: str) -> SettingsView:
        portal = await self._portal(member_id)
        return SettingsView(
            BotSettings.from_settings(portal.settings), PrivacyPolicy.from_settings(portal.settings)
        )

    async def update(
        self,
        member_id: str,
        changes: Mapping[str, Any],
        *,
        user_id: int,
        is_admin: bool,
        known_lines: set[int] | None = None,
    ) -> SettingsView:
        """Apply a partial change (admins only); raises InvalidFields naming each bad field."""
        if not is_admin:
            raise Forbidden("only a Bitrix24 administrator may change this")
        unknown = set(changes) - {"bot", "privacy"}
        if unknown:
            raise InvalidFields({name: "unknown_field" for name in unknown})
        for section in ("bot", "privacy"):
            if section in changes and not isinstance(changes[section], Mapping):
                raise BadRequest(f"{section} must be an object")
        portal = await self._portal(member_id)
        before = SettingsView(
            BotSettings.from_settings(portal.settings), PrivacyPolicy.from_settings(portal.settings)
        )
        errors: dict[str, str] = {}
        bot, privacy = before.bot, before.privacy
        try:
            bot = _apply_bot(before.bot, changes.get("bot") or {}, known_lines)
        except InvalidFields as exc:
            errors.update(exc.fields)
        try:
            privacy = _apply_privacy(before.privacy, changes.get("privacy") or {})
        except InvalidFields as exc:
            errors.update(exc.fields)
        if errors:
            raise InvalidFields(errors)
        after = SettingsView(bot, privacy)
        if after == before:
            return after
        stored = {**privacy.merged_into(portal.settings), BOT_KEY: bot.to_dict()}
        await self._portals.update_settings(member_id, stored)
        await self._audit.add(
            AuditRecord(
                member_id=member_id,
                action="settings",
                actor=f"admin:{user_id}",
                details={"changes": dict(changes), "previous": before.to_dict()},
                created_at=self._clock.now(),
            )
        )
        log.info(
            "app.settings.changed",
            extra={"member_id": member_id, "user_id": user_id, "sections": sorted(changes)},
        )
        return after

    async def _portal(self, member_id: str) -> Portal:
        portal = await self._portals.get(member_id)
        if portal is None or not portal.installed:
            raise Unauthorized("the portal of this session is not installed")
        return portal
