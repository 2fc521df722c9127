"""What a portal's people may see and change from the app page: the privacy policy and consents.

Every method takes the portal and the user from a verified session (``portals.frame``), never from
the request, so one portal can never name another's data. Reading is open to any user of the portal;
changing needs a Bitrix24 admin (``user.admin``) and leaves an audit record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from b24claude.errors import Forbidden, InvalidFields, Unauthorized
from b24claude.kit.clock import Clock
from b24claude.ports.privacy import AuditRecord, AuditRepository, ConsentRecord, ConsentRepository
from b24claude.ports.store import Portal, PortalRepository
from b24claude.privacy.policy import PrivacyPolicy

log = logging.getLogger("b24claude.privacy.admin")

# An opaque client id ("user:123", "contact:45", a digest) — never a raw e-mail or phone, which the
# audit trail and the URL would otherwise carry.
CLIENT_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,127}$")


class PrivacyAdminService:
    def __init__(
        self,
        *,
        portals: PortalRepository,
        consents: ConsentRepository,
        audit: AuditRepository,
        clock: Clock,
    ) -> None:
        self._portals = portals
        self._consents = consents
        self._audit = audit
        self._clock = clock

    async def policy(self, member_id: str) -> PrivacyPolicy:
        """The portal's policy (defaults filled in)."""
        return PrivacyPolicy.from_settings((await self._portal(member_id)).settings)

    async def set_policy(
        self, member_id: str, raw: Any, *, user_id: int, is_admin: bool, actor: str | None = None
    ) -> PrivacyPolicy:
        """Replace the policy with ``raw`` (fields left out take their defaults); admins only (the CLI,
        run by the operator, passes ``actor="cli"``)."""
        _require_admin(is_admin)
        portal = await self._portal(member_id)
        policy = PrivacyPolicy.from_dict(raw)  # BadRequest with the reason
        before = PrivacyPolicy.from_settings(portal.settings)
        await self._portals.update_settings(member_id, policy.merged_into(portal.settings))
        await self._audit.add(
            AuditRecord(
                member_id=member_id,
                action="settings",
                actor=actor or f"admin:{user_id}",
                details={"privacy": policy.to_dict(), "previous": before.to_dict()},
                created_at=self._clock.now(),
            )
        )
        log.info("privacy.settings.changed", extra={"member_id": member_id, "user_id": user_id})
        return policy

    async def set_consent(
        self,
        member_id: str,
        client_key: str,
        granted: bool,
        *,
        user_id: int,
        is_admin: bool,
        actor: str | None = None,
    ) -> None:
        """Record a client's consent as decided by an admin (the CLI passes ``actor="cli"``)."""
        _require_admin(is_admin)
        if not CLIENT_KEY.match(client_key):
            raise InvalidFields({"consent.client_key": "bad_client_key"})
        await self._portal(member_id)
        actor = actor or f"admin:{user_id}"
        await self._consents.set(member_id, client_key, granted, source=actor)
        await self._audit.add(
            AuditRecord(
                member_id=member_id,
                action="consent",
                actor=actor,
                subject=client_key,
                details={"granted": granted},
                created_at=self._clock.now(),
            )
        )
        log.info("privacy.consent.recorded", extra={"member_id": member_id, "user_id": user_id})

    async def consents(self, member_id: str, *, limit: int = 200) -> list[ConsentRecord]:
        """The consents recorded for the portal's clients (any user of the portal may read them)."""
        await self._portal(member_id)
        return await self._consents.list(member_id, limit=limit)

    async def _portal(self, member_id: str) -> Portal:
        portal = await self._portals.get(member_id)
        if portal is None or not portal.installed:
            raise Unauthorized("the portal of this session is not installed")
        return portal


def _require_admin(is_admin: bool) -> None:
    if not is_admin:
        raise Forbidden("only a Bitrix24 administrator may change this")
