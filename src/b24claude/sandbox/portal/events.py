"""Event delivery (classic form POSTs, v2 webhook JSON) and ``event.bind/get/unbind``.

Bitrix24 sends events through its queue server: one attempt, **no retries**; a failure is logged and
the event is lost (reference/bitrix24.md §2.2). Deliveries to a handler run concurrently, but the
events of one chat reach one handler in order.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING, Any

import httpx

from b24claude.kit import phpform

from .base import JSON, Caller, Registry, RestError, as_int, param
from .state import DeliveryRecord, EventBinding

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()

KNOWN_EVENTS = {
    "ONAPPINSTALL",
    "ONAPPUNINSTALL",
    "ONAPPUPDATE",
    "ONAPPPAYMENT",
    "ONOFFLINEEVENT",
    "ONCRMDEALADD",
    "ONCRMDEALUPDATE",
    "ONCRMDEALDELETE",
    "ONCRMLEADADD",
    "ONCRMLEADUPDATE",
    "ONCRMLEADDELETE",
    "ONCRMCONTACTADD",
    "ONCRMCONTACTUPDATE",
    "ONCRMCONTACTDELETE",
    "ONCRMCOMPANYADD",
    "ONCRMCOMPANYUPDATE",
    "ONCRMCOMPANYDELETE",
    "ONCRMTIMELINECOMMENTADD",
    "ONIMBOTMESSAGEADD",
    "ONIMBOTMESSAGEUPDATE",
    "ONIMBOTMESSAGEDELETE",
    "ONIMBOTJOINCHAT",
    "ONIMBOTDELETE",
    "ONIMCOMMANDADD",
    "ONOPENLINEMESSAGEADD",
    "ONSESSIONSTART",
    "ONSESSIONFINISH",
    "ONUSERADD",
}


class Deliverer:
    def __init__(self, state: PortalState) -> None:
        self.state = state
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._rng = random.Random(state.config.random_seed)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: never route loopback deliveries through a proxy from the environment.
            self._client = httpx.AsyncClient(timeout=self.state.config.delivery_timeout_s, trust_env=False)
        return self._client

    def _should_drop(self) -> bool:
        cfg = self.state.config
        if cfg.drop_event_deliveries >= 1:
            cfg.drop_event_deliveries -= 1
            return True
        return cfg.drop_event_deliveries > 0 and self._rng.random() < cfg.drop_event_deliveries

    async def _post(self, url: str, event: str, kind: str, content: str) -> tuple[int | None, str | None]:
        record = DeliveryRecord(time=self.state.now(), event=event, url=url, kind=kind)
        ctype = "application/x-www-form-urlencoded" if kind == "form" else "application/json"
        try:
            response = await self.client.post(
                url,
                content=content.encode(),
                headers={"Content-Type": ctype, "User-Agent": "Bitrix24 Webhook Engine"},
            )
            record.status = response.status_code
            if response.status_code >= 300:
                record.error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        self.state.delivery_log.append(record)
        return record.status, record.error

    async def post_form_now(self, url: str, body: JSON, *, event: str) -> tuple[int | None, str | None]:
        """Deliver immediately and report the handler's status (install callbacks)."""
        return await self._post(url, event, "form", phpform.encode(body))

    def send_form(self, url: str, body: JSON, *, event: str, order_key: str = "") -> None:
        self._schedule(url, event, "form", phpform.encode(body), order_key)

    def send_json(self, url: str, body: JSON, *, event: str, order_key: str = "") -> None:
        self._schedule(url, event, "json", json.dumps(body, ensure_ascii=False), order_key)

    def _schedule(self, url: str, event: str, kind: str, content: str, order_key: str) -> None:
        if self._should_drop():
            self.state.delivery_log.append(
                DeliveryRecord(
                    time=self.state.now(),
                    event=event,
                    url=url,
                    kind=kind,
                    dropped=True,
                    error="dropped by drop_event_deliveries",
                )
            )
            return
        key = (url, order_key)
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run_after(previous, url, event, kind, content))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._forget(key, t))

    async def _run_after(
        self, previous: asyncio.Task[None] | None, url: str, event: str, kind: str, content: str
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        await self._post(url, event, kind, content)

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def drain(self, wait_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("event deliveries still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def emit_app_event(state: PortalState, event: str, data: JSON, *, user_id: int, order_key: str = "") -> None:
    """Deliver a classic event to every app handler bound to it (ONCRMDEALUPDATE etc.)."""
    from .auth import event_auth
    from .offline import enqueue

    for binding in list(state.event_bindings):
        if binding.event != event:
            continue
        app = state.apps.get(binding.client_id)
        # No events until the install is finished (installation-finish.md).
        if app is None or not app.installed or not app.finished:
            continue
        if binding.offline:  # queued for event.offline.get (sandbox/portal/offline.py)
            enqueue(state, app, event, data, user_id=user_id)
            continue
        body: JSON = {
            "event": event,
            "event_handler_id": str(binding.id),
            "data": data,
            "ts": str(int(state.now())),
            "auth": event_auth(state, app, binding.auth_type or user_id, with_refresh=False),
        }
        state.deliverer.send_form(binding.handler, body, event=event, order_key=order_key)


@methods.add("event.bind", app_only=True)
async def event_bind(state: PortalState, caller: Caller, params: JSON) -> Any:
    assert caller.client_id is not None
    event = str(param(params, "event", "") or "").upper()
    handler = str(param(params, "handler", "") or "")
    offline = str(param(params, "event_type", "online") or "online").lower() == "offline"
    if event not in KNOWN_EVENTS:
        raise RestError(400, "ERROR_EVENT_NOT_FOUND", "Event not found")
    if not offline and not handler.startswith(("http://", "https://")):
        raise RestError(400, "ERROR_HANDLER_URL", "Handler URL is required")
    auth_type = as_int(param(params, "auth_type"), 0)
    options = param(params, "options")
    for b in state.event_bindings:
        if (b.client_id, b.event, b.handler, b.auth_type, b.offline) == (
            caller.client_id,
            event,
            handler,
            auth_type,
            offline,
        ):
            raise RestError(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!")
    state.event_bindings.append(
        EventBinding(
            id=state.next_id("event_handler", 400),
            client_id=caller.client_id,
            event=event,
            handler=handler,
            auth_type=auth_type,
            offline=offline,
            options=dict(options) if isinstance(options, dict) else {},
        )
    )
    return True


@methods.add("event.get", app_only=True)
async def event_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    return [
        {
            "event": b.event,
            "handler": b.handler,
            "auth_type": str(b.auth_type),
            "offline": 1 if b.offline else 0,
        }
        for b in state.event_bindings
        if b.client_id == caller.client_id
    ]


@methods.add("event.unbind", app_only=True)
async def event_unbind(state: PortalState, caller: Caller, params: JSON) -> Any:
    event = str(param(params, "event", "") or "").upper()
    handler = param(params, "handler")
    before = len(state.event_bindings)
    state.event_bindings = [
        b
        for b in state.event_bindings
        if not (b.client_id == caller.client_id and b.event == event and (handler in (None, "", b.handler)))
    ]
    return {"count": before - len(state.event_bindings)}


@methods.add("events")
async def events_list(state: PortalState, caller: Caller, params: JSON) -> Any:
    return sorted(KNOWN_EVENTS)
