"""Fuzzing every HTTP operation of the app from its own OpenAPI (schemathesis) — no 5xx, ever, and a
rejected request (any 4xx) changes nothing: inbox, portals (settings, tokens), consents, audit.

The app runs as in production — a real container on a temporary SQLite file, two emulated portals
with the app installed, uvicorn on loopback — in its own event loop on a background thread, so that
schemathesis' synchronous calls and our state snapshots never share a loop with the database.

Requests are made meaningful beyond what the schema alone gives: app-API cases carry an admin's,
an employee's, a forged or no session; some event cases carry the real member_id, application token
and a current ``ts`` of a portal, so they reach the parser and the inbox rather than stop at 401.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from sqlalchemy import text

from b24claude.cli.stack import DEMO_CLIENT_ID, SandboxStack
from b24claude.kit import phpform
from tests.e2e.portals import OTHER_MEMBER_ID, second_portal

T = TypeVar("T")
MAX_EXAMPLES = 30
# Events a fuzzer holding a real token must not send: they would (legitimately) uninstall the portal
# or replace its tokens, and every later case would then test an empty app.
LIFECYCLE = {"ONAPPINSTALL", "ONAPPUNINSTALL", "ONIMBOTDELETE"}


@dataclass
class Live:
    stack: SandboxStack
    loop: asyncio.AbstractEventLoop
    sessions: dict[str, str]
    tokens: dict[str, str]  # member_id -> application token
    openapi: dict[str, Any]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    @property
    def url(self) -> str:
        return self.stack.app_url

    def snapshot(self) -> dict[str, Any]:
        return self.run(_snapshot(self.stack))


async def _snapshot(stack: SandboxStack) -> dict[str, Any]:
    assert stack.container is not None
    queries = {
        "inbox": "SELECT count(*) FROM inbox",
        "portals": "SELECT member_id, domain, settings, application_token, installed, access_token, "
        "client_endpoint FROM portals ORDER BY member_id",
        "consents": "SELECT member_id, client_key, granted, source FROM client_consents ORDER BY 1, 2",
        "audit": "SELECT count(*) FROM audit_log",
    }
    out: dict[str, Any] = {}
    async with stack.container.store.engine.connect() as conn:
        for name, sql in queries.items():
            out[name] = [tuple(row) for row in (await conn.execute(text(sql))).all()]
    return out


async def _start(ready: threading.Event, box: dict[str, Any], stop: asyncio.Event) -> None:
    stack = SandboxStack(bot_api="v1")
    await stack.start()
    try:
        async with second_portal(stack) as other:
            frames = {
                "admin": stack.portal.open_app_frame(DEMO_CLIENT_ID, 1),
                "employee": stack.portal.open_app_frame(DEMO_CLIENT_ID, 3),
                "other_admin": other.state.open_app_frame(DEMO_CLIENT_ID, 1),
            }
            sessions: dict[str, str] = {}
            async with httpx.AsyncClient() as http:
                for role, post in frames.items():
                    page = await http.post(
                        f"{stack.app_url}/app",
                        params=post.query,
                        content=phpform.encode(post.form),
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                    assert page.status_code == 200, page.text
                    sessions[role] = page.text.split('name="b24c-session" content="', 1)[1].split('"', 1)[0]
                openapi = (await http.get(f"{stack.app_url}/openapi.json")).json()
            assert stack.container is not None
            tokens = {}
            for member_id in (stack.member_id, OTHER_MEMBER_ID):
                portal = await stack.container.store.portals.get(member_id)
                assert portal is not None
                tokens[member_id] = portal.application_token
            box["live"] = Live(stack, asyncio.get_running_loop(), sessions, tokens, openapi)
            ready.set()
            await stop.wait()
    finally:
        await stack.stop()


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}
    stop = asyncio.Event()
    task: list[Awaitable[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        main = loop.create_task(_start(ready, box, stop))
        task.append(main)
        try:
            loop.run_until_complete(main)
        except BaseException as exc:  # surfaced below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="fuzz-stack", daemon=True)
    thread.start()
    assert ready.wait(60), "the stack did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["live"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def _operations(live: Live) -> list[Any]:
    schema = schemathesis.openapi.from_dict(live.openapi)
    return [result.ok() for result in schema.get_all_operations()]


def _tweak(live: Live, case: Any, auth: str, real_portal: bool) -> None:
    """Make a generated case meaningful: a session for the app API, a real portal for events."""
    path = case.operation.path
    if path.startswith("/app/api/"):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if auth in live.sessions:
            case.headers["Authorization"] = f"Bearer {live.sessions[auth]}"
        elif auth == "forged":
            case.headers["Authorization"] = "Bearer eyJtIjoieCJ9.AAAA"
    elif path == "/b24/events" and real_portal and isinstance(case.body, dict):
        event = str(case.body.get("event", "")).upper()
        if event not in LIFECYCLE:
            member_id = live.stack.member_id if auth != "other_admin" else OTHER_MEMBER_ID
            case.body["auth[member_id]"] = member_id
            case.body["auth[application_token]"] = live.tokens[member_id]
            case.body["ts"] = str(int(time.time()))
    elif path == "/app" and real_portal and isinstance(case.body, dict):
        case.body["member_id"] = live.stack.member_id
        case.query = {**(case.query or {}), "DOMAIN": live.stack.portal.config.domain}


_AUTH = st.sampled_from(["admin", "employee", "other_admin", "forged", "none"])


def _fuzz(live: Live, operation: Any, mode: schemathesis.GenerationMode, seen: dict[str, set[int]]) -> bool:
    """Fuzz one operation; False when the mode has nothing to generate for it (negative cases of an
    operation without parameters or body)."""
    name = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode), auth=_AUTH, real_portal=st.booleans())
    def check(case: Any, auth: str, real_portal: bool) -> None:
        _tweak(live, case, auth, real_portal)
        before = live.snapshot()
        response = case.call(base_url=live.url, timeout=30)
        seen.setdefault(name, set()).add(response.status_code)
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert live.snapshot() == before, (name, response.status_code, response.text[:300])

    try:
        check()
    except Unsatisfiable:
        return False
    return True


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_every_operation_never_5xx_and_rejections_change_nothing(
    live: Live, mode: schemathesis.GenerationMode
) -> None:
    operations = _operations(live)
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/b24/events"),
        ("POST", "/b24/install"),
        ("POST", "/app"),
        ("GET", "/app/api/privacy"),
        ("PUT", "/app/api/privacy"),
        ("PUT", "/app/api/consents/{client_key}"),
        ("GET", "/healthz"),
    }
    seen: dict[str, set[int]] = {}
    idle = {f"{op.method.upper()} {op.path}" for op in operations if not _fuzz(live, op, mode, seen)}
    assert idle <= {
        "GET /healthz",
        "GET /readyz",
        "GET /healthz/details",
        "GET /metrics",
        "GET /app/api/privacy",
    }, idle
    # The tweaks worked: requests got past authentication, not only bounced off it.
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert 200 in seen["PUT /app/api/privacy"] and 403 in seen["PUT /app/api/privacy"]
        assert 200 in seen["GET /app/api/privacy"] and 401 in seen["GET /app/api/privacy"]
        assert seen["POST /b24/events"] & {200, 400} and 401 in seen["POST /b24/events"]
