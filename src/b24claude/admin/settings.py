"""The settings an admin changes on the app page: the bot (persona, company, lines, language) and
the privacy policy, changed field by field.

A change names only the fields it changes (``{"bot": {"company_name": "…"}, "privacy":
{"retention": {"inbox_days": 7}}}``); every other field keeps its stored value — nothing is reset
to a default because it was left out. Each field is checked on its own and a bad one is reported by
name (:class:`~b24claude.errors.InvalidFields`), so the page can say what is wrong next to it;
nothing is stored unless every field passes. Stored as ``Portal.settings["bot"]`` and
``["privacy"]``, with an audit record of the before and after.

It spans two domains (the bot of ``conversations``, the policy of ``privacy``), so it sits above them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from b24claude.conversations.app_settings import (
    BOT_KEY,
    MAX_DAYS,
    BotSettings,
    _apply_bot,
    _flag,
    _unknown,
)
from b24claude.errors import BadRequest, Forbidden, InvalidFields, Unauthorized
from b24claude.kit.clock import Clock
from b24claude.ports.privacy import PII_TYPES, AuditRecord, AuditRepository
from b24claude.ports.store import Portal, PortalRepository
from b24claude.privacy.policy import PrivacyPolicy, Retention

log = logging.getLogger("b24claude.admin.settings")


def _days(errors: dict[str, str], name: str, value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "not_integer"
        return None
    if not 0 <= value <= MAX_DAYS:
        errors[name] = "range"
        return None
    return int(value)


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
