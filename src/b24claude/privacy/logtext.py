"""Whether a portal's log records may carry message text, and how that text is masked when they do.

The log processor runs for every record and must not block, so the portals' choices
(``PrivacyPolicy.log_message_text``) are read into memory and refreshed in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from b24claude.ports.privacy import PII_TYPES, PiiType
from b24claude.ports.store import PortalRepository
from b24claude.privacy.detect import PiiDetector
from b24claude.privacy.policy import PrivacyPolicy

log = logging.getLogger("b24claude.privacy")


class LogTextPolicy:
    def __init__(self, *, portals: PortalRepository, detector: PiiDetector, default: bool = False) -> None:
        self._portals = portals
        self._detector = detector
        self._default = default
        self._allowed: dict[str, bool] = {}

    def allows(self, member_id: str) -> bool:
        """Text may be logged for this portal (its admin turned it on); unknown portals: the default."""
        return self._allowed.get(member_id, self._default)

    def mask(self, text: str, types: Collection[PiiType] = PII_TYPES) -> str:
        """Logged text never carries PII, whatever the portal masks before Claude."""
        return self._detector.redact(text, types)[0]

    async def refresh(self) -> None:
        allowed: dict[str, bool] = {}
        for portal in await self._portals.list_installed():
            allowed[portal.member_id] = PrivacyPolicy.from_settings(portal.settings).log_message_text
        self._allowed = allowed

    async def run(self, interval_s: float = 30.0) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep the last known view; a store hiccup must not stop the loop
                log.warning("privacy.log_text.refresh_failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(interval_s)
