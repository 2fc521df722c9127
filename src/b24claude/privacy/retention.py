"""The scheduled purge: every portal's records older than its retention periods go (152-FZ art. 5 §7,
GDPR art. 5(1)(e): kept no longer than the purpose needs).

Per portal (installed or not, with a record or only data) its :class:`PrivacyPolicy` decides, in days
(0 = keep): dialogue turns, *finished* inbox rows (never pending or processing — that would lose a
customer's message), LLM ledger rows and log files; vault entries and subject bindings whose dialogue
has no turn left after the purge go with them. Each portal that lost something gets one audit record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from b24claude.errors import B24ClaudeError
from b24claude.kit.clock import Clock
from b24claude.ports.memory import MemoryRepository
from b24claude.ports.privacy import AuditRecord, AuditRepository
from b24claude.ports.retention import LogArchive, RetentionStore
from b24claude.ports.store import PortalRepository
from b24claude.privacy.policy import PrivacyPolicy, Retention

log = logging.getLogger("b24claude.privacy.retention")


@dataclass(frozen=True, slots=True)
class PurgeReport:
    now: float
    portals: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # only portals that lost rows
    service_log_files: int = 0
    errors: Mapping[str, str] = field(default_factory=dict)  # member_id -> error code

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.portals.values()) + self.service_log_files


class RetentionService:
    def __init__(
        self,
        *,
        store: RetentionStore,
        portals: PortalRepository,
        audit: AuditRepository,
        logs: LogArchive | None = None,
        memory: MemoryRepository | None = None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._portals = portals
        self._audit = audit
        self._logs = logs
        self._memory = memory
        self._clock = clock
        self._stopping = asyncio.Event()

    async def purge(
        self, now: float, *, member_id: str | None = None, actor: str = "scheduler"
    ) -> PurgeReport:
        """Apply every portal's retention (or one portal's) as of ``now``.

        A portal that fails is logged and reported; the others are still purged.
        """
        if member_id is not None:
            members = [member_id]
        else:
            members = await self._store.members()
            if self._logs is not None:
                members = sorted(set(members) | set(await self._logs.members()))
        purged: dict[str, Mapping[str, int]] = {}
        errors: dict[str, str] = {}
        for member in members:
            try:
                counts = await self._purge_portal(member, now)
                if any(counts.values()):
                    purged[member] = counts
                    await self._audit.add(
                        AuditRecord(
                            member_id=member, action="purge", actor=actor, details=counts, created_at=now
                        )
                    )
            except B24ClaudeError as exc:
                log.warning("retention.purge.failed", extra={"member_id": member, "code": exc.code})
                errors[member] = exc.code
        service_files = 0
        service_s = Retention().seconds("logs")  # the service's own logs (no portal): the default period
        if member_id is None and self._logs is not None and service_s:
            service_files = await self._logs.delete_before(None, before=now - service_s)
        return PurgeReport(now=now, portals=purged, service_log_files=service_files, errors=errors)

    async def _purge_portal(self, member_id: str, now: float) -> dict[str, int]:
        retention = (await self._policy(member_id)).retention
        counts: dict[str, int] = {}
        if days_s := retention.seconds("dialogues"):
            before = now - days_s
            counts["turns"] = await self._store.purge_turns(member_id, before=before)
            counts.update(await self._store.delete_orphans(member_id, before=before))
        if days_s := retention.seconds("inbox"):
            counts["inbox"] = await self._store.purge_inbox(member_id, before=now - days_s)
        if days_s := retention.seconds("ledger"):
            counts["ledger"] = await self._store.purge_ledger(member_id, before=now - days_s)
        if (days_s := retention.seconds("logs")) and self._logs is not None:
            counts["log_files"] = await self._logs.delete_before(member_id, before=now - days_s)
        if self._memory is not None:  # each fact carries its own expiry (capped by the dialogues period)
            counts["memory"] = await self._memory.purge_expired(member_id, now=now)
        return counts

    async def _policy(self, member_id: str) -> PrivacyPolicy:
        portal = await self._portals.get(member_id)
        try:
            return PrivacyPolicy.from_settings(portal.settings if portal else None)
        except B24ClaudeError:
            # Settings that no longer parse must not stop retention: the defaults apply.
            log.warning("retention.policy.unreadable", extra={"member_id": member_id})
            return PrivacyPolicy()

    # --- the periodic task ------------------------------------------------------------------------

    async def run(self, interval_s: float) -> None:
        """Purge now and every ``interval_s`` until :meth:`stop`; an error is logged, never fatal."""
        while not self._stopping.is_set():
            try:
                report = await self.purge(self._clock.now(), actor="scheduler")
                if report.total or report.errors:
                    log.info(
                        "retention.purge.done",
                        extra={
                            "portals": len(report.portals),
                            "rows": report.total,
                            "errors": len(report.errors),
                        },
                    )
            except Exception:
                log.exception("retention.purge.crashed")
            try:
                await asyncio.wait_for(self._stopping.wait(), interval_s)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
