"""Our async Bitrix24 REST client on httpx (reference/bitrix24.md §1.3, §1.4, §3).

One :class:`Bitrix24Client` serves every portal: credentials come from the :class:`TokenStore` by
``member_id``; a per-portal leaky bucket paces requests; errors leave as :mod:`b24claude.errors`.
Retry policy (one layer, here):

* 401 ``expired_token``/``invalid_token`` (OAuth): single-flight refresh, then retry (up to three
  refreshes per call; then :class:`Bitrix24TokenExpired`, which the inbox retries later);
* 503 ``QUERY_LIMIT_EXCEEDED`` / 429 (not OPERATION_TIME_LIMIT): bucket marked full, exponential
  backoff with jitter, until ``max_wait_s`` of waiting is spent → :class:`Bitrix24RateLimited`;
* 429 ``OPERATION_TIME_LIMIT``: wait for the method's last seen ``operating_reset_at`` (≤ ``max_wait_s``),
  retry once;
* 5xx / network: backoff retries for read methods only; writes raise :class:`Bitrix24TransientError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from b24claude.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24OperationLimit,
    Bitrix24RateLimited,
    Bitrix24TransientError,
)
from b24claude.kit.backoff import backoff_delay
from b24claude.kit.clock import Clock
from b24claude.kit.urls import UnsafeURL, check_portal_download, check_url, is_public_address
from b24claude.ports.bitrix import PortalAuth, TokenGrant, TokenStore
from b24claude.ports.ratelimit import RequestThrottle

from .batch import (
    MAX_BATCH,
    BatchResult,
    Command,
    encode_command,
    is_read_batch,
    is_read_method,
    parse_batch_result,
    plan_chunks,
    prefixed,
    unprefixed,
)
from .errors import OPERATION_TIME_LIMIT, QUERY_LIMIT_EXCEEDED, REFRESHABLE, error_fields, map_response
from .oauth import TokenRefresher
from .throttle import PortalThrottle

log = logging.getLogger("b24claude.bitrix24")

PAGE_SIZE = 50
MAX_TRANSIENT_RETRIES = 3
MAX_REFRESHES = 3
# When a 429 OPERATION_TIME_LIMIT comes before we saw the method's operating_reset_at: the oldest
# of the 10 one-minute buckets drops within a minute.
DEFAULT_OPERATING_WAIT_S = 60.0


@dataclass(slots=True)
class OperatingState:
    """``time.operating`` (seconds of this method over the last 10 minutes) and its reset time."""

    operating: float = 0.0
    reset_at: float = 0.0


@dataclass(slots=True)
class ClientStats:
    """Counters for benchmarks and metrics (requests include retries)."""

    requests: int = 0
    requests_by_portal: dict[str, int] = field(default_factory=dict)
    requests_by_method: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    retry_wait_s: float = 0.0
    throttle_waits: int = 0
    throttle_wait_s: float = 0.0
    query_limit_503: int = 0
    throttled_429: int = 0
    operation_limit_429: int = 0
    refreshes: int = 0
    coalesced: int = 0  # read batches that rode in another caller's request (coalesce_window_s)
    operating_s_by_method: dict[str, float] = field(default_factory=dict)

    def count_request(self, member_id: str, method: str, waited_s: float) -> None:
        self.requests += 1
        self.requests_by_portal[member_id] = self.requests_by_portal.get(member_id, 0) + 1
        self.requests_by_method[method] = self.requests_by_method.get(method, 0) + 1
        if waited_s > 0:
            self.throttle_waits += 1
            self.throttle_wait_s += waited_s


@dataclass(frozen=True, slots=True)
class CallResult:
    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Attempts:
    """Per-call retry bookkeeping."""

    refreshes: int = 0
    operating_retried: bool = False
    rate_limited: int = 0
    rate_wait_s: float = 0.0
    transient: int = 0


@dataclass(slots=True)
class _SharedBatch:
    """Read batches of several callers gathered into one request (``coalesce_window_s``)."""

    result: asyncio.Future[BatchResult]
    cmds: dict[str, Command] = field(default_factory=dict)
    callers: list[str] = field(default_factory=list)
    full: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def size(self) -> int:
        return len(self.cmds)


class Bitrix24Client:
    def __init__(
        self,
        token_store: TokenStore,
        *,
        oauth_client_id: str,
        oauth_client_secret: str,
        oauth_url: str,
        http: httpx.AsyncClient | None = None,
        clock: Clock,
        rate_per_s: float = 2.0,
        burst: int = 50,
        max_wait_s: float = 30.0,
        timeout_s: float = 30.0,
        user_agent: str = "b24claude/0.1",
        allow_loopback: bool = False,
        resolve: Callable[[str], Awaitable[list[str]]] | None = None,
        throttle: RequestThrottle | None = None,
        coalesce_window_s: float = 0.0,
    ) -> None:
        """``oauth_url``: the one OAuth server refreshes go to. ``allow_loopback``: the sandbox's
        ``http://127.0.0.1:<port>`` endpoints pass the outbound-URL check (never in production).
        ``throttle``: the per-portal bucket shared by all processes (Redis); default in memory.
        ``coalesce_window_s``: read-only batches of one portal started within this window share
        one ``batch`` request (≤ 50 sub-calls; 0 = each its own request)."""
        self._coalesce_s = coalesce_window_s
        self._pending: dict[str, _SharedBatch] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self._store = token_store
        self._allow_loopback = allow_loopback
        self._resolve = resolve or _resolve_host
        self._checked_endpoints: set[str] = set()
        self._clock = clock
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))
        self._timeout = httpx.Timeout(timeout_s)
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._max_wait_s = max_wait_s
        self._throttle: RequestThrottle = throttle or PortalThrottle(
            clock, rate_per_s=rate_per_s, burst=burst
        )
        self._refresher = TokenRefresher(
            token_store,
            self._http,
            clock,
            client_id=oauth_client_id,
            client_secret=oauth_client_secret,
            oauth_url=oauth_url,
            headers=self._headers,
        )
        self._auth: dict[str, PortalAuth] = {}
        self._operating: dict[tuple[str, str], OperatingState] = {}
        self.stats = ClientStats()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def forget(self, member_id: str) -> None:
        """Drop cached credentials (after a reinstall or uninstall)."""
        self._auth.pop(member_id, None)

    def operating(self, member_id: str, method: str) -> OperatingState | None:
        """Last seen ``time.operating`` / ``operating_reset_at`` of a method on a portal."""
        return self._operating.get((member_id, method.lower()))

    # ----- public calls -------------------------------------------------------------------------
    async def call(self, member_id: str, method: str, params: Mapping[str, Any] | None = None) -> CallResult:
        """One REST method; raises the mapped :mod:`b24claude.errors` exception on failure."""
        body = await self._request(member_id, method, dict(params or {}), read=is_read_method(method))
        self._note_time(member_id, method, body.get("time"))
        return CallResult(
            result=body.get("result"),
            total=_int_or_none(body.get("total")),
            next=_int_or_none(body.get("next")),
            time=time_block if isinstance(time_block := body.get("time"), Mapping) else {},
        )

    async def call_as_user(
        self, member_id: str, access_token: str, method: str, params: Mapping[str, Any] | None = None
    ) -> CallResult:
        """One method with a user's own access token (an app frame's ``AUTH_ID``), at the portal's
        stored client endpoint — never at an address the caller supplies.

        No refresh and no retry on an auth error: the portal refusing the token *is* the answer, and
        refreshing would silently swap in the app's own (installing admin's) tokens. Paced by the
        portal's throttle like every other request.
        """
        if not access_token:
            raise Bitrix24AuthError("no user access token", code="NO_AUTH_FOUND", status=401)
        auth = await self._current_auth(member_id)
        if auth.webhook:
            raise Bitrix24AuthError("portal is connected by a webhook, not an app", code="WRONG_AUTH_TYPE")
        as_user = replace(auth, access_token=access_token, refresh_token="")
        payload = dict(params or {})
        status, body = await self._send(
            member_id, method, as_user, payload, read=is_read_method(method), attempts=_Attempts()
        )
        if status != 200 or not isinstance(body, dict) or error_fields(body) is not None:
            error = map_response(status, body)
            log.info(
                "bitrix24.user_call.error",
                extra={"member_id": member_id, "method": method, "status": status, "code": error.code},
            )
            raise error
        return CallResult(
            result=body.get("result"),
            total=_int_or_none(body.get("total")),
            next=_int_or_none(body.get("next")),
            time=time_block if isinstance(time_block := body.get("time"), Mapping) else {},
        )

    async def grant(self, refresh_token: str, *, member_id: str) -> TokenGrant:
        """A refresh at the configured OAuth server, not persisted (install confirmation)."""
        return await self._refresher.grant(refresh_token, member_id=member_id)

    async def call_with(
        self,
        member_id: str,
        client_endpoint: str,
        access_token: str,
        method: str,
        params: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """One method at ``client_endpoint`` with ``access_token``, for a portal not stored yet
        (install confirmation): no refresh, no retry on an error, not paced by a stored portal's
        bucket beyond its own. The endpoint passes the outbound-URL check first."""
        auth = PortalAuth(member_id=member_id, client_endpoint=client_endpoint, access_token=access_token)
        self._check_endpoint(client_endpoint)
        await self._check_resolves_public(client_endpoint)
        status, body = await self._send(
            member_id,
            method,
            auth,
            dict(params or {}),
            read=is_read_method(method),
            attempts=_Attempts(transient=3),
        )
        if status != 200 or not isinstance(body, dict) or error_fields(body) is not None:
            error = map_response(status, body)
            log.info(
                "bitrix24.install_call.error",
                extra={"member_id": member_id, "method": method, "status": status, "code": error.code},
            )
            raise error
        return CallResult(result=body.get("result"))

    async def batch(self, member_id: str, cmds: Mapping[str, Command], halt: bool = False) -> BatchResult:
        """Run sub-calls in as few requests as the 50-per-batch cap allows (see ``plan_chunks``).

        Read-only batches (no ``halt``) of concurrent callers on one portal are coalesced into
        shared requests when ``coalesce_window_s`` > 0: 200 dialogues reading their context at
        once cost a handful of requests, not 200 (DESIGN.md §2: paced by the bucket, batched).
        A caller's own sub-calls stay together and in order, so their ``$result`` references hold.
        """
        if self._coalesce_s > 0 and not halt and 0 < len(cmds) < MAX_BATCH and is_read_batch(cmds):
            return await self._coalesced(member_id, cmds)
        return await self._batch_now(member_id, cmds, halt)

    async def _coalesced(self, member_id: str, cmds: Mapping[str, Command]) -> BatchResult:
        shared = self._pending.get(member_id)
        if shared is None or shared.size + len(cmds) > MAX_BATCH:
            if shared is not None:
                shared.full.set()  # send what it holds now
            shared = self._pending[member_id] = _SharedBatch(asyncio.get_running_loop().create_future())
            task = asyncio.create_task(self._flush(member_id, shared), name="bitrix24-batch-flush")
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        prefix = f"c{len(shared.callers)}_"
        shared.callers.append(prefix)
        shared.cmds.update(prefixed(cmds, prefix))
        if shared.size >= MAX_BATCH:
            shared.full.set()
        return unprefixed(await asyncio.shield(shared.result), prefix)

    async def _flush(self, member_id: str, shared: _SharedBatch) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shared.full.wait(), self._coalesce_s)
            if self._pending.get(member_id) is shared:
                del self._pending[member_id]
            if len(shared.callers) > 1:
                self.stats.coalesced += len(shared.callers) - 1
            result = await self._batch_now(member_id, dict(shared.cmds), False)
        except BaseException as exc:
            if not shared.result.done():
                shared.result.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        shared.result.set_result(result)

    async def _batch_now(self, member_id: str, cmds: Mapping[str, Command], halt: bool) -> BatchResult:
        merged = BatchResult()
        for chunk in plan_chunks(cmds):
            payload = {
                "halt": 1 if halt else 0,
                "cmd": {k: encode_command(m, p) for k, (m, p) in chunk.items()},
            }
            body = await self._request(member_id, "batch", payload, read=is_read_batch(chunk))
            part = parse_batch_result(body.get("result"))
            for key, time_block in part.time.items():
                self._note_time(member_id, chunk[key][0], time_block)
            merged = merged.merged(part)
            if halt and part.errors:
                break
        return merged

    async def iter_list(
        self,
        member_id: str,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        fast: bool = True,
    ) -> AsyncIterator[Any]:
        """Every item of a list method.

        ``fast``: ``start=-1`` (no COUNT) with an ``>ID`` cursor and ``order {ID: ASC}`` — for CRM
        lists that take ``filter``/``order``; otherwise ``start``/``next`` paging.
        """
        base = dict(params or {})
        if not fast:
            start = _int_or_none(base.get("start")) or 0
            while True:
                page = await self.call(member_id, method, {**base, "start": start})
                for item in _items(page.result):
                    yield item
                if page.next is None:
                    return
                start = page.next
        id_key = "id" if method.lower().startswith("crm.item.") else "ID"
        user_filter = dict(base.get("filter") or {})
        cursor = user_filter.pop(f">{id_key}", None)
        while True:
            filter_ = dict(user_filter)
            if cursor is not None:
                filter_[f">{id_key}"] = cursor
            page = await self.call(
                member_id, method, {**base, "filter": filter_, "order": {id_key: "ASC"}, "start": -1}
            )
            items = _items(page.result)
            for item in items:
                yield item
            if len(items) < PAGE_SIZE:
                return
            last = items[-1]
            cursor = last.get(id_key) if isinstance(last, Mapping) else None
            if cursor is None:
                raise Bitrix24Error(f"{method}: fast listing needs {id_key} in the selected fields")

    async def download(self, member_id: str, url: str, *, max_bytes: int) -> bytes:
        """A file the portal handed out a link to (Disk's ``DOWNLOAD_URL``), read to at most
        ``max_bytes`` + 1 bytes. The URL must be on the portal's own origin (its stored client
        endpoint's scheme, host and port) or it is refused before any request; redirects are not
        followed. Paced by the portal's bucket like a REST call."""
        auth = await self._current_auth(member_id)
        self._check_endpoint(auth.client_endpoint)
        try:
            checked = check_portal_download(url, auth.client_endpoint, allow_loopback=self._allow_loopback)
        except UnsafeURL as exc:
            log.warning("bitrix24.download.refused", extra={"member_id": member_id, "reason": str(exc)})
            raise Bitrix24AuthError(f"download URL refused: {exc}", code="UNSAFE_URL", status=None) from None
        waited = await self._throttle.acquire(member_id)
        self.stats.count_request(member_id, "download", waited)
        headers = {"User-Agent": self._headers["User-Agent"]}
        try:
            async with self._http.stream(
                "GET", checked, headers=headers, timeout=self._timeout, follow_redirects=False
            ) as response:
                if response.status_code != 200:
                    body = await response.aread()
                    error = map_response(response.status_code, _json_bytes_or_none(body))
                    log.info(
                        "bitrix24.download.error",
                        extra={"member_id": member_id, "status": response.status_code, "code": error.code},
                    )
                    raise error
                parts: list[bytes] = []
                size = 0
                async for block in response.aiter_bytes():
                    parts.append(block)
                    size += len(block)
                    if size > max_bytes:
                        break
                return b"".join(parts)[: max_bytes + 1]
        except httpx.HTTPError as exc:
            # ``from None``: the httpx error carries the URL, and the URL carries the access token.
            raise Bitrix24TransientError(f"download: {type(exc).__name__}") from None
        finally:
            self._throttle.release(member_id)

    # ----- the request loop ---------------------------------------------------------------------
    async def _request(
        self, member_id: str, method: str, payload: dict[str, Any], *, read: bool
    ) -> dict[str, Any]:
        auth = await self._current_auth(member_id)
        if not auth.webhook and 0 < auth.expires_at <= self._clock.now():
            # Already expired by our clock: refreshing first saves the round trip to a sure 401.
            auth = await self._refresh(member_id, auth)
        attempts = _Attempts()
        while True:
            status, body = await self._send(member_id, method, auth, payload, read=read, attempts=attempts)
            if status == 200 and isinstance(body, dict) and error_fields(body) is None:
                return body
            error = map_response(status, body)
            code = error.code
            if (
                status == 401
                and code in REFRESHABLE
                and not auth.webhook
                and attempts.refreshes < MAX_REFRESHES
            ):
                # A token refreshed by a peer may itself have expired by the time we use it: refresh
                # again (bounded), never give up on a refresh that works.
                attempts.refreshes += 1
                auth = await self._refresh(member_id, auth)
                self.stats.retries += 1
                continue
            if isinstance(error, Bitrix24RateLimited):
                await self._wait_rate_limited(member_id, method, error, attempts)
                continue
            if code == OPERATION_TIME_LIMIT:
                await self._wait_operating(member_id, method, error, attempts)
                continue
            if (
                isinstance(error, Bitrix24TransientError)
                and read
                and attempts.transient < MAX_TRANSIENT_RETRIES
            ):
                attempts.transient += 1
                await self._backoff(attempts.transient)
                continue
            log.info(
                "bitrix24.call.error",
                extra={"member_id": member_id, "method": method, "status": status, "code": code},
            )
            raise error

    async def _send(
        self,
        member_id: str,
        method: str,
        auth: PortalAuth,
        payload: dict[str, Any],
        *,
        read: bool,
        attempts: _Attempts,
    ) -> tuple[int, Any]:
        """One HTTP request after the throttle; network errors are retried here for reads."""
        body = payload if auth.webhook else {**payload, "auth": auth.access_token}
        self._check_endpoint(auth.client_endpoint)
        url = auth.client_endpoint + method
        while True:
            waited = await self._throttle.acquire(member_id)
            self.stats.count_request(member_id, method, waited)
            try:
                response = await self._http.post(url, json=body, headers=self._headers, timeout=self._timeout)
                return response.status_code, _json_or_none(response)
            except httpx.HTTPError as exc:
                network_error = exc
            finally:
                self._throttle.release(member_id)
            log.warning(
                "bitrix24.call.network_error",
                extra={"member_id": member_id, "method": method, "error": type(network_error).__name__},
            )
            if not read or attempts.transient >= MAX_TRANSIENT_RETRIES:
                # ``from None``: the chained httpx error carries the URL (a webhook's secret code).
                raise Bitrix24TransientError(f"{method}: {type(network_error).__name__}") from None
            attempts.transient += 1
            await self._backoff(attempts.transient)

    async def _wait_rate_limited(
        self, member_id: str, method: str, error: Bitrix24Error, attempts: _Attempts
    ) -> None:
        if error.code == QUERY_LIMIT_EXCEEDED:
            self.stats.query_limit_503 += 1
        else:
            self.stats.throttled_429 += 1
        self._throttle.mark_full(member_id)
        attempts.rate_limited += 1
        delay = backoff_delay(attempts.rate_limited, base=1.0, cap=8.0)
        if attempts.rate_wait_s + delay > self._max_wait_s:
            log.warning("bitrix24.rate_limited.give_up", extra={"member_id": member_id, "method": method})
            raise Bitrix24RateLimited(error.message, code=error.code, status=error.status, retry_after=delay)
        attempts.rate_wait_s += delay
        log.info(
            "bitrix24.rate_limited",
            extra={"member_id": member_id, "method": method, "delay_s": round(delay, 2)},
        )
        await self._sleep_retry(delay)

    async def _wait_operating(
        self, member_id: str, method: str, error: Bitrix24Error, attempts: _Attempts
    ) -> None:
        self.stats.operation_limit_429 += 1
        known = self._operating.get((member_id, method.lower()))
        now = self._clock.now()
        wait = max(0.0, known.reset_at - now) if known and known.reset_at else DEFAULT_OPERATING_WAIT_S
        # A known reset beyond our patience: tell the caller when to come back instead of idling.
        if attempts.operating_retried or (known and known.reset_at and wait > self._max_wait_s):
            raise Bitrix24OperationLimit(
                error.message, code=OPERATION_TIME_LIMIT, status=429, retry_after=wait
            )
        attempts.operating_retried = True
        log.info(
            "bitrix24.operation_limit",
            extra={"member_id": member_id, "method": method, "wait_s": round(wait, 1)},
        )
        await self._sleep_retry(min(wait, self._max_wait_s))

    async def _backoff(self, attempt: int) -> None:
        await self._sleep_retry(backoff_delay(attempt, base=0.5, cap=min(8.0, self._max_wait_s)))

    async def _sleep_retry(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.retry_wait_s += seconds
        await self._clock.sleep(seconds)

    # ----- credentials and bookkeeping ----------------------------------------------------------
    async def _check_resolves_public(self, client_endpoint: str) -> None:
        """A public name may still resolve to a private address (DNS pointing at 127.0.0.1, the
        metadata service…): before the first call to a new portal, every address must be public."""
        if self._allow_loopback:
            return
        host = urlsplit(client_endpoint).hostname or ""
        try:
            addresses = await self._resolve(host)
        except OSError:
            raise Bitrix24TransientError(f"cannot resolve the portal's host {host}") from None
        if not addresses or not all(is_public_address(a) for a in addresses):
            log.warning("bitrix24.endpoint.private_address", extra={"host": host})
            raise Bitrix24AuthError("portal host resolves to a non-public address", code="UNSAFE_ENDPOINT")

    def _check_endpoint(self, client_endpoint: str) -> None:
        """Every request passes the outbound-URL check (kit.urls): a stored endpoint from before the
        check, or a forged one, is refused here rather than called."""
        if client_endpoint in self._checked_endpoints:
            return
        try:
            check_url(client_endpoint, allow_loopback=self._allow_loopback, path_prefix="/rest/")
        except UnsafeURL as exc:
            log.warning("bitrix24.endpoint.refused", extra={"reason": str(exc)})
            raise Bitrix24AuthError(
                f"portal endpoint refused: {exc}", code="UNSAFE_ENDPOINT", status=None
            ) from None
        if len(self._checked_endpoints) < 100_000:
            self._checked_endpoints.add(client_endpoint)

    async def _current_auth(self, member_id: str) -> PortalAuth:
        auth = self._auth.get(member_id)
        if auth is None:
            auth = self._auth[member_id] = await self._store.load_auth(member_id)
        return auth

    async def _refresh(self, member_id: str, stale: PortalAuth) -> PortalAuth:
        before = self._refresher.refreshes
        auth = await self._refresher.refresh(member_id, stale.access_token)
        self.stats.refreshes += self._refresher.refreshes - before
        self._auth[member_id] = auth
        return auth

    def _note_time(self, member_id: str, method: str, time_block: Any) -> None:
        if not isinstance(time_block, Mapping):
            return
        operating = _float_or_none(time_block.get("operating"))
        reset_at = _float_or_none(time_block.get("operating_reset_at"))
        if operating is None and reset_at is None:
            return
        key = (member_id, method.lower())
        state = self._operating.setdefault(key, OperatingState())
        if operating is not None:
            state.operating = operating
            self.stats.operating_s_by_method[method.lower()] = operating
        if reset_at is not None:
            state.reset_at = reset_at


async def _resolve_host(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _items(result: Any) -> list[Any]:
    # crm.item.list: {"items": [...]}; legacy lists: [...]; some PHP lists: {"0": …, "1": …}.
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping):
        items = result.get("items")
        if isinstance(items, list):
            return items
        return list(result.values())
    return []


def _json_bytes_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
