"""SQL implementations of the storage ports (``b24claude.ports.store``), one class per Protocol.

Every public method is one transaction and, where it can be, one statement (concurrent
``add_many`` calls may share one: group commit). SQLAlchemy and driver exceptions never leave this
module: they become :class:`b24claude.errors.StorageError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from b24claude.adapters.sql.codec import IdentityCodec, SecretsCodec
from b24claude.adapters.sql.engine import SqlDatabase, make_engine, migrate
from b24claude.adapters.sql.knowledge import SqlKnowledgeRepository
from b24claude.adapters.sql.memory import SqlMemoryRepository
from b24claude.adapters.sql.privacy import (
    SqlAuditRepository,
    SqlConsentRepository,
    SqlPiiVault,
    SqlSubjectRepository,
    plain_digest,
)
from b24claude.adapters.sql.retention import SqlRetentionStore
from b24claude.adapters.sql.suggestions import SqlSuggestionRepository
from b24claude.adapters.sql.supervision import SqlBotCommandRepository, SqlSupervisionRepository
from b24claude.adapters.sql.tables import dialogue_turns, effects, inbox, llm_ledger, portals
from b24claude.adapters.sql.triage import SqlTriageRepository
from b24claude.adapters.sql.usage import SqlLedgerViews
from b24claude.errors import PortalNotInstalled, StorageError
from b24claude.ports.bitrix import BotApi, PortalAuth
from b24claude.ports.store import (
    Effect,
    EffectStatus,
    InboxItem,
    InboxStatus,
    LedgerEntry,
    NewInboxItem,
    Portal,
    Turn,
)

INBOX_STATUSES: tuple[InboxStatus, ...] = ("pending", "processing", "done", "failed", "ignored")
MAX_ERROR_CHARS = 4000
MAX_ITEMS_PER_COMMIT = 500


# --- inbox ----------------------------------------------------------------------------------------


def _inbox_item(row: Row[Any]) -> InboxItem:
    return InboxItem(
        id=row.id,
        member_id=row.member_id,
        key=row.key,
        kind=row.kind,
        payload=row.payload,
        status=cast(InboxStatus, row.status),
        attempts=row.attempts,
        dialog_key=row.dialog_key,
        received_at=float(row.received_at),
        not_before=float(row.not_before),
        last_error=row.last_error,
        priority=int(row.priority),
        lease_until=float(row.lease_until),
    )


_Call = tuple[Sequence[NewInboxItem], "asyncio.Future[list[int | None]]"]


class _GroupCommit:
    """Concurrent ``add_many`` calls share transactions: one commit acknowledges them all.

    While one transaction is in flight, later calls queue; the next transaction takes every queued
    call (up to ``MAX_ITEMS_PER_COMMIT`` items), so N concurrent webhook requests cost about two
    commits of latency instead of N. Each call's items still commit together, and a call returns only
    after its commit. If a shared transaction fails, its calls are retried one per transaction, so
    one bad call cannot fail its neighbours.
    """

    def __init__(self, insert: Callable[[list[NewInboxItem]], Awaitable[list[int | None]]]) -> None:
        self._insert = insert
        self._queue: list[_Call] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[NewInboxItem]) -> list[int | None]:
        future: asyncio.Future[list[int | None]] = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        if self._drainer is None or self._drainer.done():
            # A task of its own: a caller that gives up (a cancelled request) must not stop the
            # commit its neighbours wait for.
            self._drainer = asyncio.create_task(self._drain(), name="b24claude-inbox-group-commit")
        return await future

    async def _drain(self) -> None:
        batch: list[_Call] = []
        try:
            while self._queue:
                batch = self._take_batch()
                await self._commit(batch)
        except BaseException as exc:  # the drainer itself was cancelled (shutdown): nobody may hang
            unsettled, self._queue = [*batch, *self._queue], []
            for _, future in unsettled:
                _settle(future, StorageError(f"inbox.add_many: interrupted ({exc!r})"))
            raise

    def _take_batch(self) -> list[_Call]:
        taken, total = 0, 0
        for items, _ in self._queue:
            if taken and total + len(items) > MAX_ITEMS_PER_COMMIT:
                break
            taken, total = taken + 1, total + len(items)
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    async def _commit(self, batch: list[_Call]) -> None:
        try:
            flags = await self._insert([item for items, _ in batch for item in items])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for single in batch:
                await self._commit([single])
            return
        start = 0
        for items, future in batch:
            _settle(future, flags[start : start + len(items)])
            start += len(items)

    async def wait_idle(self) -> None:
        if self._drainer is not None:
            await asyncio.gather(self._drainer, return_exceptions=True)


def _settle(future: asyncio.Future[list[int | None]], outcome: list[int | None] | Exception) -> None:
    if future.done():  # the caller was cancelled; its items are stored all the same
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class SqlInboxRepository:
    """The durable inbox. ``dialog_key`` is compared across portals, so it must name the portal too
    (e.g. ``"<member_id>:chat42"``); an empty key means "no ordering constraint"."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._group_commit = _GroupCommit(self._insert)

    async def add_many(self, items: Sequence[NewInboxItem]) -> list[bool]:
        """Insert durably in one transaction; ``False`` for an item whose (member_id, key) exists.

        Returns after the commit. New rows are due at once (``not_before = 0``), whatever clock the
        caller's ``claim`` uses. A key repeated inside ``items``, or by concurrent calls, is new only
        the first time. Concurrent calls may share a transaction (see :class:`_GroupCommit`).
        """
        return [new_id is not None for new_id in await self.insert_many(items)]

    async def insert_many(self, items: Sequence[NewInboxItem]) -> list[int | None]:
        """:meth:`add_many` returning each new row's id (``None`` for a key that exists)."""
        if not items:
            return []
        return await self._group_commit.submit(items)

    async def _insert(self, items: list[NewInboxItem]) -> list[int | None]:
        now = time.time()
        rows = [
            {
                "member_id": item.member_id,
                "key": item.key,
                "kind": item.kind,
                "payload": dict(item.payload),
                "status": "pending",
                "attempts": 0,
                "dialog_key": item.dialog_key,
                "received_at": now,
                "not_before": 0.0,
                "last_error": "",
                "updated_at": now,
                "priority": item.priority,
                "lease_until": 0.0,
                # The caller publishes right after the commit: announced now.
                "announced_at": now,
            }
            for item in items
        ]
        stmt = (
            self._db.insert(inbox)
            .on_conflict_do_nothing(index_elements=["member_id", "key"])
            .returning(inbox.c.id, inbox.c.member_id, inbox.c.key)
        )
        async with self._db.write("inbox.add_many") as conn:
            result = await conn.execute(stmt, rows)
            inserted = {(row.member_id, row.key): int(row.id) for row in result}
        new_ids: list[int | None] = []
        for item in items:
            new_ids.append(inserted.pop((item.member_id, item.key), None))
        return new_ids

    async def aclose(self) -> None:
        """Wait for the add_many calls in flight to commit."""
        await self._group_commit.wait_idle()

    async def claim(
        self, *, limit: int, now: float, busy_dialogs: Sequence[str] = (), lease_s: float = 0.0
    ) -> list[InboxItem]:
        """Move up to ``limit`` due pending items to ``processing`` (oldest first), at most one per
        dialogue and none from ``busy_dialogs``; returns them. ``lease_s`` > 0 gives each a lease.

        A dialogue's candidate is its *oldest pending* row: while that row waits for a retry
        (``not_before`` in the future) the dialogue's later rows wait too, so replies keep their order.
        A dialogue with a row in ``processing`` is skipped. One statement: on PostgreSQL the rows are
        picked ``FOR UPDATE SKIP LOCKED`` so concurrent workers never claim the same row; on SQLite the
        statement runs in a ``BEGIN IMMEDIATE`` transaction, so claimers are serialised.
        """
        if limit <= 0:
            return []
        row = inbox.c
        picked = (
            select(row.id)
            .where(_claimable(now, busy_dialogs))
            .order_by(row.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=inbox)
        )
        lease_until = time.time() + lease_s if lease_s > 0 else 0.0
        stmt = (
            update(inbox)
            .where(row.id.in_(self._once(picked)))
            .values(status="processing", updated_at=time.time(), lease_until=lease_until)
            .returning(*inbox.c)
        )
        async with self._db.write("inbox.claim") as conn:
            claimed = [_inbox_item(r) for r in await conn.execute(stmt)]
        return sorted(claimed, key=lambda item: item.id)

    def _once(self, picked: Select[Any]) -> Select[Any]:
        if self._db.dialect == "postgresql":
            # A materialised CTE: the locking pick is evaluated exactly once, whatever the plan.
            return select(picked.cte("picked").prefix_with("MATERIALIZED").c.id)
        # A plain subquery, so the statement starts with UPDATE and sqlite3 opens BEGIN IMMEDIATE.
        return picked

    async def claim_row(self, item_id: int, *, now: float, lease_until: float) -> InboxItem | None:
        """Claim one announced row (see the port). Safe under concurrency: on PostgreSQL the row
        lock serialises two claimers of one row (the second re-reads it as ``processing``), and the
        "oldest pending, dialogue not busy" test never sees a dialogue without its pending or
        processing row, since a row moves between the two in one update."""
        params = {
            "p_id": item_id,
            "p_now": float(now),
            "p_updated": time.time(),
            "p_lease": float(lease_until),
        }
        async with self._db.write("inbox.claim_row") as conn:
            got = (await conn.execute(_claim_row_statement(), params)).first()
        return None if got is None else _inbox_item(got)

    async def renew_lease(self, item_id: int, *, lease_until: float) -> bool:
        stmt = (
            update(inbox)
            .where(inbox.c.id == item_id, inbox.c.status == "processing")
            .values(lease_until=float(lease_until), updated_at=time.time())
        )
        async with self._db.write("inbox.renew_lease") as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def pending_after(self, dialog_key: str, after_id: int, *, limit: int) -> list[InboxItem]:
        """The dialogue's pending rows newer than ``after_id``, oldest first (coalescing, see the port)."""
        if limit <= 0 or not dialog_key:
            return []
        row = inbox.c
        stmt = (
            select(inbox)
            .where(row.dialog_key == dialog_key, row.status == "pending", row.id > int(after_id))
            .order_by(row.id)
            .limit(limit)
        )
        async with self._db.read("inbox.pending_after") as conn:
            return [_inbox_item(r) for r in (await conn.execute(stmt)).all()]

    async def claim_followers(
        self, item_ids: Sequence[int], *, dialog_key: str, lease_until: float
    ) -> list[InboxItem]:
        """Move these pending rows of ``dialog_key`` to ``processing`` with the head's lease (see the port)."""
        if not item_ids or not dialog_key:
            return []
        row = inbox.c
        stmt = (
            update(inbox)
            .where(
                row.id.in_([int(i) for i in item_ids]), row.dialog_key == dialog_key, row.status == "pending"
            )
            .values(status="processing", updated_at=time.time(), lease_until=float(lease_until))
            .returning(*inbox.c)
        )
        async with self._db.write("inbox.claim_followers") as conn:
            claimed = [_inbox_item(r) for r in await conn.execute(stmt)]
        return sorted(claimed, key=lambda item: item.id)

    async def ready_heads(
        self, *, now: float, announced_before: float, limit: int, dialog_key: str | None = None
    ) -> list[InboxItem]:
        """Rows to (re)announce to the queue; see the port."""
        if limit <= 0:
            return []
        row = inbox.c
        picked = (
            select(row.id)
            .where(
                _claimable(now),
                # Not announced lately, or come due (a retry's not_before) since its last announcement.
                or_(row.announced_at < float(announced_before), row.not_before > row.announced_at),
                true() if dialog_key is None else row.dialog_key == dialog_key,
            )
            .order_by(row.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=inbox)
        )
        stmt = (
            update(inbox)
            .where(row.id.in_(self._once(picked)))
            .values(announced_at=float(now))
            .returning(*inbox.c)
        )
        async with self._db.write("inbox.ready_heads") as conn:
            heads = [_inbox_item(r) for r in await conn.execute(stmt)]
        return sorted(heads, key=lambda item: item.id)

    async def _update(self, operation: str, item_id: int, **values: Any) -> None:
        stmt = update(inbox).where(inbox.c.id == item_id).values(updated_at=time.time(), **values)
        async with self._db.write(operation) as conn:
            await conn.execute(stmt)

    async def mark_done(self, item_id: int, *, status: InboxStatus = "done") -> None:
        await self._update("inbox.mark_done", item_id, status=status)

    async def mark_retry(self, item_id: int, *, error: str, not_before: float) -> None:
        """Back to ``pending`` with attempts+1, not before the given time."""
        await self._update(
            "inbox.mark_retry",
            item_id,
            status="pending",
            attempts=inbox.c.attempts + 1,
            not_before=not_before,
            last_error=error[:MAX_ERROR_CHARS],
        )

    async def mark_failed(self, item_id: int, *, error: str) -> None:
        """Give up on an item (attempts+1); it stays for inspection and replay."""
        await self._update(
            "inbox.mark_failed",
            item_id,
            status="failed",
            attempts=inbox.c.attempts + 1,
            last_error=error[:MAX_ERROR_CHARS],
        )

    async def requeue_processing(self, *, stale_before: float | None = None) -> int:
        """At start-up: items left ``processing`` by a dead process go back to ``pending``.

        Each counts as an attempt, so an event that kills the process every time it is handled runs
        out of attempts instead of crash-looping the service. ``stale_before`` (wall clock) limits
        the requeue to rows claimed before that time: with several workers on one PostgreSQL
        database, a starting worker must not take back rows its live peers are processing.
        """
        stmt = (
            update(inbox)
            .where(inbox.c.status == "processing")
            .values(
                status="pending",
                attempts=inbox.c.attempts + 1,
                last_error="interrupted: requeued at start-up",
                updated_at=time.time(),
                lease_until=0.0,
                announced_at=0.0,  # announce it again at once
            )
        )
        if stale_before is not None:
            cut = float(stale_before)
            stmt = stmt.where(
                or_(
                    and_(inbox.c.lease_until > 0, inbox.c.lease_until < cut),
                    and_(inbox.c.lease_until <= 0, inbox.c.updated_at < cut),
                )
            )
        async with self._db.write("inbox.requeue_processing") as conn:
            result = await conn.execute(stmt)
        return result.rowcount

    async def dialogue_heads(self, member_id: str, *, kind: str, since: float) -> list[InboxItem]:
        row = inbox.c
        newest = (
            select(func.max(row.id))
            .where(
                row.member_id == member_id,
                row.kind == kind,
                row.dialog_key != "",
                row.received_at >= float(since),
            )
            .group_by(row.dialog_key)
        )
        stmt = select(inbox).where(row.id.in_(newest)).order_by(row.id)
        async with self._db.read("inbox.dialogue_heads") as conn:
            return [_inbox_item(r) for r in (await conn.execute(stmt)).all()]

    async def release(self, item_ids: Sequence[int]) -> int:
        if not item_ids:
            return 0
        stmt = (
            update(inbox)
            .where(inbox.c.id.in_(list(item_ids)), inbox.c.status == "processing")
            .values(
                status="pending",
                last_error="released: the worker stopped",
                lease_until=0.0,
                announced_at=0.0,
                updated_at=time.time(),
            )
        )
        async with self._db.write("inbox.release") as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    async def counts(self, member_id: str | None = None) -> Mapping[str, int]:
        """Rows per status (every status present, zeros included), of one portal when given."""
        stmt = select(inbox.c.status, func.count()).group_by(inbox.c.status)
        if member_id is not None:
            stmt = stmt.where(inbox.c.member_id == member_id)
        async with self._db.read("inbox.counts") as conn:
            rows = (await conn.execute(stmt)).all()
        totals: dict[str, int] = dict.fromkeys(INBOX_STATUSES, 0)
        totals.update({str(status): int(str(count)) for status, count in rows})
        return totals

    async def get(self, item_id: int) -> InboxItem | None:
        async with self._db.read("inbox.get") as conn:
            row = (await conn.execute(select(inbox).where(inbox.c.id == item_id))).first()
        return None if row is None else _inbox_item(row)

    async def list_items(
        self, *, statuses: Sequence[InboxStatus], member_id: str | None = None, limit: int = 50
    ) -> list[InboxItem]:
        stmt = (
            select(inbox).where(inbox.c.status.in_(list(statuses))).order_by(inbox.c.id.desc()).limit(limit)
        )
        if member_id is not None:
            stmt = stmt.where(inbox.c.member_id == member_id)
        async with self._db.read("inbox.list") as conn:
            return [_inbox_item(row) for row in (await conn.execute(stmt)).all()]

    async def replay(
        self, item_ids: Sequence[int] | None = None, *, statuses: Sequence[InboxStatus] = ()
    ) -> int:
        if not item_ids and not statuses:
            return 0
        # Never a row a worker holds right now: that one finishes (or is resumed) on its own.
        where = inbox.c.id.in_(list(item_ids)) if item_ids else inbox.c.status.in_(list(statuses))
        stmt = (
            update(inbox)
            .where(where, inbox.c.status != "processing")
            # announced_at 0: the feeder announces it to the queue again at once.
            .values(
                status="pending",
                attempts=0,
                not_before=0.0,
                lease_until=0.0,
                announced_at=0.0,
                updated_at=time.time(),
            )
        )
        async with self._db.write("inbox.replay") as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)


_CLAIM_ROW: list[Update] = []


def _claim_row_statement() -> Update:
    """``claim_row``'s statement, built once with bound parameters: it runs for every row a worker
    takes, and building the expression (the serialisation subqueries) each time was the largest
    CPU cost of the worker's own code (py-spy, README "Scale-out")."""
    if not _CLAIM_ROW:
        _CLAIM_ROW.append(
            update(inbox)
            .where(inbox.c.id == bindparam("p_id"), _claimable(bindparam("p_now")))
            .values(status="processing", updated_at=bindparam("p_updated"), lease_until=bindparam("p_lease"))
            .returning(*inbox.c)
        )
    return _CLAIM_ROW[0]


def _claimable(now: float | ColumnElement[float], busy_dialogs: Sequence[str] = ()) -> ColumnElement[bool]:
    """A due pending row that is its dialogue's oldest pending one, in a dialogue without a row in
    processing (rows without a dialogue are always claimable)."""
    row = inbox.c
    running = inbox.alias("running")
    older = inbox.alias("older")
    serialisable = and_(
        row.dialog_key.not_in(list(busy_dialogs)) if busy_dialogs else true(),
        ~exists().where(running.c.dialog_key == row.dialog_key, running.c.status == "processing"),
        ~exists().where(
            older.c.dialog_key == row.dialog_key, older.c.status == "pending", older.c.id < row.id
        ),
    )
    return and_(
        row.status == "pending",
        row.not_before <= (now if isinstance(now, ColumnElement) else float(now)),
        or_(row.dialog_key == "", serialisable),
    )


# --- portals --------------------------------------------------------------------------------------


class SqlPortalRepository:
    """Portals, their credentials and bot; also the Bitrix24 client's ``TokenStore``.

    Secrets (access, refresh and application tokens) pass through ``secrets_codec`` on the way in
    and out; the default stores them as given.
    """

    def __init__(self, db: SqlDatabase, *, secrets_codec: SecretsCodec | None = None) -> None:
        self._db = db
        self._codec: SecretsCodec = secrets_codec or IdentityCodec()

    def _portal(self, row: Row[Any]) -> Portal:
        return Portal(
            member_id=row.member_id,
            domain=row.domain,
            auth=self._auth(row),
            application_token=self._codec.decode(row.application_token),
            language=row.language,
            bot_id=row.bot_id,
            bot_code=row.bot_code,
            bot_api=cast(BotApi, row.bot_api),
            event_offset=row.event_offset,
            installed=row.installed,
            settings=row.settings,
        )

    def _auth(self, row: Row[Any]) -> PortalAuth:
        return PortalAuth(
            member_id=row.member_id,
            client_endpoint=row.client_endpoint,
            access_token=self._codec.decode(row.access_token),
            refresh_token=self._codec.decode(row.refresh_token),
            expires_at=float(row.expires_at),
            server_endpoint=row.server_endpoint,
            webhook=row.webhook,
        )

    async def load_auth(self, member_id: str) -> PortalAuth:
        """Current credentials of an installed portal; raises PortalNotInstalled."""
        stmt = select(portals).where(portals.c.member_id == member_id, portals.c.installed == true())
        async with self._db.read("portals.load_auth") as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise PortalNotInstalled(f"portal {member_id} is not installed")
        return self._auth(row)

    async def save_tokens(
        self, member_id: str, *, access_token: str, refresh_token: str, expires_at: float
    ) -> None:
        """Persist a rotated token pair atomically (one UPDATE); raises PortalNotInstalled when the
        portal is unknown or was uninstalled meanwhile (its tokens must not come back)."""
        stmt = (
            update(portals)
            .where(portals.c.member_id == member_id, portals.c.installed == true())
            .values(
                access_token=self._codec.encode(access_token),
                refresh_token=self._codec.encode(refresh_token),
                expires_at=expires_at,
                updated_at=time.time(),
            )
        )
        async with self._db.write("portals.save_tokens") as conn:
            result = await conn.execute(stmt)
        if result.rowcount == 0:
            raise PortalNotInstalled(f"portal {member_id} is not installed")

    async def get(self, member_id: str) -> Portal | None:
        """The portal, installed or not."""
        async with self._db.read("portals.get") as conn:
            row = (await conn.execute(select(portals).where(portals.c.member_id == member_id))).first()
        return None if row is None else self._portal(row)

    async def upsert(self, portal: Portal) -> None:
        """Insert or replace a portal's record (an install or a re-install).

        What a re-install must not lose is kept from the stored record when the new one has none:
        the bot (``bot_id`` None keeps bot id, code and API), the imbot.v2 fetch offset
        (``event_offset`` None) and the admin's settings (empty ``settings``).
        """
        auth = portal.auth
        values: dict[str, Any] = {
            "member_id": portal.member_id,
            "domain": portal.domain,
            "client_endpoint": auth.client_endpoint,
            "server_endpoint": auth.server_endpoint,
            "access_token": self._codec.encode(auth.access_token),
            "refresh_token": self._codec.encode(auth.refresh_token),
            "expires_at": auth.expires_at,
            "webhook": auth.webhook,
            "application_token": self._codec.encode(portal.application_token),
            "language": portal.language,
            "bot_id": portal.bot_id,
            "bot_code": portal.bot_code,
            "bot_api": portal.bot_api,
            "event_offset": portal.event_offset,
            "installed": portal.installed,
            "settings": dict(portal.settings),
            "updated_at": time.time(),
        }
        kept: set[str] = set()
        if portal.bot_id is None:
            kept |= {"bot_id", "bot_code", "bot_api"}
        if portal.event_offset is None:
            kept.add("event_offset")
        if not portal.settings:
            kept.add("settings")
        insert = self._db.insert(portals).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=["member_id"],
            set_={name: insert.excluded[name] for name in values if name not in kept | {"member_id"}},
        )
        async with self._db.write("portals.upsert") as conn:
            await conn.execute(stmt)

    async def _update(self, operation: str, member_id: str, **values: Any) -> None:
        stmt = (
            update(portals).where(portals.c.member_id == member_id).values(updated_at=time.time(), **values)
        )
        async with self._db.write(operation) as conn:
            result = await conn.execute(stmt)
        if result.rowcount == 0:
            raise PortalNotInstalled(f"portal {member_id} is not installed")

    async def set_bot(self, member_id: str, *, bot_id: int, bot_code: str, bot_api: BotApi) -> None:
        await self._update("portals.set_bot", member_id, bot_id=bot_id, bot_code=bot_code, bot_api=bot_api)

    async def set_event_offset(self, member_id: str, offset: int) -> None:
        await self._update("portals.set_event_offset", member_id, event_offset=offset)

    async def update_settings(self, member_id: str, settings: Mapping[str, Any]) -> None:
        """Replace the admin's settings of the portal (the caller merges)."""
        await self._update("portals.update_settings", member_id, settings=dict(settings))

    async def mark_uninstalled(self, member_id: str) -> None:
        """Mark uninstalled and forget the (now revoked) OAuth tokens; bot, offset and settings stay
        for a re-install. Unknown portals are ignored (uninstall events may repeat)."""
        stmt = (
            update(portals)
            .where(portals.c.member_id == member_id)
            .values(
                installed=False, access_token="", refresh_token="", expires_at=0.0, updated_at=time.time()
            )
        )
        async with self._db.write("portals.mark_uninstalled") as conn:
            await conn.execute(stmt)

    async def list_installed(self) -> list[Portal]:
        stmt = select(portals).where(portals.c.installed == true()).order_by(portals.c.member_id)
        async with self._db.read("portals.list_installed") as conn:
            rows = (await conn.execute(stmt)).all()
        return [self._portal(row) for row in rows]


# --- dialogues ------------------------------------------------------------------------------------


class SqlDialogueRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def append(self, member_id: str, dialog_key: str, turn: Turn) -> None:
        """Append a turn; the same (message_id, role) in a dialogue is stored once (replays)."""
        stmt = (
            self._db.insert(dialogue_turns)
            .values(
                member_id=member_id,
                dialog_key=dialog_key,
                role=turn.role,
                text=turn.text,
                message_id=turn.message_id,
                created_at=turn.created_at or time.time(),
                citations=list(turn.citations) or None,
            )
            .on_conflict_do_nothing()
        )
        async with self._db.write("dialogues.append") as conn:
            await conn.execute(stmt)

    async def last_turns(self, member_id: str, dialog_key: str, *, limit: int) -> list[Turn]:
        """The last ``limit`` turns, oldest first."""
        if limit <= 0:
            return []
        t = dialogue_turns.c
        stmt = (
            select(t.role, t.text, t.message_id, t.created_at, t.citations)
            .where(t.member_id == member_id, t.dialog_key == dialog_key)
            .order_by(t.seq.desc())
            .limit(limit)
        )
        async with self._db.read("dialogues.last_turns") as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Turn(
                role=row.role,
                text=row.text,
                message_id=row.message_id,
                created_at=float(row.created_at),
                citations=tuple(row.citations or ()),
            )
            for row in reversed(rows)
        ]


# --- effects --------------------------------------------------------------------------------------


class SqlEffectRepository:
    """Outbound effects keyed by (inbox row, kind): intent first, result after (DESIGN.md §7)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def get(self, inbox_id: int, kind: str) -> Effect | None:
        stmt = select(effects).where(effects.c.inbox_id == inbox_id, effects.c.kind == kind)
        async with self._db.read("effects.get") as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return Effect(
            inbox_id=row.inbox_id,
            kind=row.kind,
            status=cast(EffectStatus, row.status),
            payload=row.payload,
            result=row.result,
        )

    async def record_intent(self, inbox_id: int, kind: str, payload: Mapping[str, Any]) -> None:
        """Record that we are about to perform an effect; a second call (a replay) changes nothing,
        whatever its payload, and never turns a ``done`` effect back into an intent."""
        now = time.time()
        stmt = (
            self._db.insert(effects)
            .values(
                inbox_id=inbox_id,
                kind=kind,
                status="intent",
                payload=dict(payload),
                result=None,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["inbox_id", "kind"])
        )
        async with self._db.write("effects.record_intent") as conn:
            await conn.execute(stmt)

    async def record_done(self, inbox_id: int, kind: str, result: Mapping[str, Any]) -> None:
        """Mark the effect done with its result (recorded even if no intent was, with an empty payload)."""
        now = time.time()
        insert = self._db.insert(effects).values(
            inbox_id=inbox_id,
            kind=kind,
            status="done",
            payload={},
            result=dict(result),
            created_at=now,
            updated_at=now,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["inbox_id", "kind"],
            set_={"status": "done", "result": insert.excluded.result, "updated_at": now},
        )
        async with self._db.write("effects.record_done") as conn:
            await conn.execute(stmt)


# --- ledger ---------------------------------------------------------------------------------------

_LEDGER_SUMS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class SqlLedgerRepository:
    """One row per LLM call."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def add(self, entry: LedgerEntry) -> None:
        stmt = llm_ledger.insert().values(
            member_id=entry.member_id,
            feature=entry.feature,
            model=entry.model,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            cache_creation_input_tokens=entry.cache_creation_input_tokens,
            cache_read_input_tokens=entry.cache_read_input_tokens,
            cost_usd=entry.cost_usd,
            latency_s=entry.latency_s,
            dialog_key=entry.dialog_key,
            request_id=entry.request_id,
            inbox_id=entry.inbox_id,
            created_at=time.time(),
        )
        async with self._db.write("ledger.add") as conn:
            await conn.execute(stmt)

    async def totals(self, member_id: str | None = None) -> Mapping[str, float]:
        """``calls``, the four token counts (ints) and ``cost_usd``, over one portal or all."""
        c = llm_ledger.c
        stmt = select(
            func.count().label("calls"),
            *(func.coalesce(func.sum(c[name]), 0).label(name) for name in _LEDGER_SUMS),
            func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
        )
        if member_id is not None:
            stmt = stmt.where(c.member_id == member_id)
        async with self._db.read("ledger.totals") as conn:
            row = (await conn.execute(stmt)).one()
        totals: dict[str, float] = {"calls": int(row.calls)}
        totals.update({name: int(row._mapping[name]) for name in _LEDGER_SUMS})
        totals["cost_usd"] = float(row.cost_usd)
        return totals


# --- the bundle -----------------------------------------------------------------------------------


class SqlStore:
    """The engine and the repositories over it; built by ``bootstrap``, closed at shutdown."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        secrets_codec: SecretsCodec | None = None,
        digest: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self.db = SqlDatabase(engine)
        self.secrets_codec: SecretsCodec = secrets_codec or IdentityCodec()
        self.inbox = SqlInboxRepository(self.db)
        self.portals = SqlPortalRepository(self.db, secrets_codec=self.secrets_codec)
        self.dialogues = SqlDialogueRepository(self.db)
        self.effects = SqlEffectRepository(self.db)
        self.ledger = SqlLedgerRepository(self.db)
        self.vault = SqlPiiVault(self.db, codec=self.secrets_codec, digest=digest or plain_digest)
        self.subjects = SqlSubjectRepository(self.db)
        self.consents = SqlConsentRepository(self.db)
        self.audit = SqlAuditRepository(self.db)
        self.retention = SqlRetentionStore(self.db)
        self.knowledge = SqlKnowledgeRepository(self.db)
        self.memory = SqlMemoryRepository(self.db)
        self.triage = SqlTriageRepository(self.db)  # issue 9: the dialogue's classification
        self.suggestions = SqlSuggestionRepository(self.db)  # issue 9: the knowledge loop
        self.ledger_views = SqlLedgerViews(self.db)  # issue 9: spend per portal/dialogue/feature/model
        self.supervision = SqlSupervisionRepository(self.db)  # issue 9: drafts, ratings, flags
        self.bot_commands = SqlBotCommandRepository(self.db)  # issue 9: the commands each bot registered
        self.digest: Callable[[str], str] = digest or plain_digest  # the vault's, for audit subjects

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        run_migrations: bool = True,
        secrets_codec: SecretsCodec | None = None,
        digest: Callable[[str], str] | None = None,
        **engine_kwargs: Any,
    ) -> SqlStore:
        """Migrate the database at ``url`` to head (unless told not to) and open a store on it."""
        engine = make_engine(url, **engine_kwargs)
        try:
            if run_migrations:
                await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, secrets_codec=secrets_codec, digest=digest)

    async def ping(self) -> None:
        """One ``SELECT 1``: StorageError when the database does not answer."""
        async with self.db.read("ping") as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Let in-flight inbox commits finish, then close every connection."""
        await self.inbox.aclose()
        await self.db.close()
        await self.engine.dispose()
