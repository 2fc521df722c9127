"""Operations at the HTTP edge: one access-log line per request, a reason for every rejected event,
``/healthz`` that says alive or not and nothing else, per-portal details only for that portal's admin,
no Swagger UI from a CDN."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from b24claude.adapters.logs import configure_logging, reset_logging
from b24claude.adapters.sql import sqlite_file
from b24claude.cli.stack import DEMO_CLIENT_ID, SandboxStack
from b24claude.kit import phpform
from b24claude.ports.store import NewInboxItem
from tests.e2e.portals import application_token, message_event, open_frame, post_event, session_of

ADMIN, EMPLOYEE = 1, 3  # seeded users of the portal emulator


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v1")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
def log_stream(stack: SandboxStack) -> Iterator[io.StringIO]:
    """The service's JSON log lines, as ``b24claude serve`` writes them."""
    root_level = logging.getLogger().level
    stream = io.StringIO()
    configure_logging(
        stack.settings.model_copy(update={"log_format": "json", "log_level": "INFO"}), stream=stream
    )
    try:
        yield stream
    finally:
        reset_logging()
        logging.getLogger().setLevel(root_level)


def records(stream: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [r for r in lines if r.get("event") == event]


async def _get(stack: SandboxStack, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{stack.app_url}{path}", **kwargs)


# --- the access log ------------------------------------------------------------------------------------


async def test_every_request_leaves_one_access_line_with_method_path_status_latency_and_portal(
    stack: SandboxStack, log_stream: io.StringIO
) -> None:
    token = await application_token(stack, stack.member_id)
    stored = await post_event(stack, message_event(stack.member_id, token, message_id="880001"))
    health = await _get(stack, "/healthz?probe=lb")
    missing = await _get(stack, "/no-such-page")
    assert (stored.status_code, health.status_code, missing.status_code) == (200, 200, 404)

    lines = records(log_stream, "http.request")
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("POST", "/b24/events", 200),
        ("GET", "/healthz", 200),  # the path only: query strings carry secrets on other routes
        ("GET", "/no-such-page", 404),
    ]
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in lines)
    assert lines[0]["member_id"] == stack.member_id  # the portal, once its token was verified
    assert "member_id" not in lines[1] and "member_id" not in lines[2]
    assert all(r["logger"] == "b24claude.access" and r["level"] == "info" for r in lines)


# --- rejected events ----------------------------------------------------------------------------------


async def test_every_rejected_event_is_logged_with_its_reason(
    stack: SandboxStack, log_stream: io.StringIO
) -> None:
    token = await application_token(stack, stack.member_id)
    forged = await post_event(stack, message_event(stack.member_id, "forged-token", message_id="880002"))
    no_auth = await post_event(stack, "event=ONIMBOTMESSAGEADD&data[PARAMS][MESSAGE_ID]=1")
    old = await post_event(stack, message_event(stack.member_id, token, message_id="880003", ts=1_000_000))
    async with httpx.AsyncClient() as http:
        not_a_form = await http.post(
            f"{stack.app_url}/b24/events", content=b"{}", headers={"content-type": "application/json"}
        )
        too_big = await http.post(
            f"{stack.app_url}/b24/install",
            content=b"x" * (stack.settings.max_body_bytes + 1),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert [r.status_code for r in (forged, no_auth, old, not_a_form, too_big)] == [401, 401, 400, 400, 413]

    rejected = records(log_stream, "b24.event.rejected")
    assert [(r["path"], r["status"], r["code"]) for r in rejected] == [
        ("/b24/events", 401, "unauthorized"),
        ("/b24/events", 401, "unauthorized"),  # no auth block: no credentials, like a wrong token
        ("/b24/events", 400, "bad_request"),
        ("/b24/events", 400, "bad_request"),
        ("/b24/install", 413, "payload_too_large"),
    ]
    reasons = [r["reason"] for r in rejected]
    assert reasons[1] == "auth block is missing"
    assert "replay" in reasons[2] and "Content-Type" in reasons[3] and "bytes" in reasons[4]
    assert all(r["level"] == "warning" for r in rejected)
    # The portal a forged event claims is named, but not as the record's portal: a forged id must
    # not open a log file (or read a text policy) of its own.
    assert rejected[0]["claimed_member_id"] == stack.member_id and "member_id" not in rejected[0]
    assert "forged-token" not in log_stream.getvalue()
    # ... and each rejected request still has its access line, without a portal.
    access = records(log_stream, "http.request")
    assert [r["status"] for r in access] == [401, 401, 400, 400, 413]
    assert not any("member_id" in r for r in access)


async def test_an_accepted_event_leaves_no_rejection_line(
    stack: SandboxStack, log_stream: io.StringIO
) -> None:
    token = await application_token(stack, stack.member_id)
    body = message_event(stack.member_id, token, message_id="880004")
    assert (await post_event(stack, body)).status_code == 200
    assert (await post_event(stack, phpform.encode(body))).json() == {"result": "duplicate"}
    assert records(log_stream, "b24.event.rejected") == []
    assert len(records(log_stream, "http.request")) == 2


# --- health --------------------------------------------------------------------------------------------


async def test_healthz_says_alive_and_nothing_about_the_portals(stack: SandboxStack) -> None:
    token = await application_token(stack, stack.member_id)
    assert (
        await post_event(stack, message_event(stack.member_id, token, message_id="880005"))
    ).status_code == 200
    health = await _get(stack, "/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert stack.member_id not in health.text and "inbox" not in health.text


async def test_healthz_is_503_when_the_database_is_gone(stack: SandboxStack) -> None:
    assert stack.container is not None
    database = sqlite_file(stack.settings.database_url)
    assert database is not None
    # The database file is replaced by something SQLite cannot open (an outage, as seen from here).
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        path.unlink(missing_ok=True)
    database.mkdir()
    await stack.container.store.engine.dispose()  # no pooled connection to the old file survives
    health = await _get(stack, "/healthz")
    assert health.status_code == 503 and health.json() == {"status": "unavailable"}


async def test_readyz_is_ready_until_the_database_is_gone_or_the_process_drains(stack: SandboxStack) -> None:
    assert stack.container is not None
    ready = await _get(stack, "/readyz")
    assert ready.status_code == 200
    # Embedded: the queue is in this process and there is no Redis (its in-memory stand-ins answer).
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok", "redis": "ok"}}
    database = sqlite_file(stack.settings.database_url)
    assert database is not None
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)
    database.mkdir()
    await stack.container.store.engine.dispose()
    gone = await _get(stack, "/readyz")
    assert gone.status_code == 503
    assert gone.json()["checks"] == {"database": "unavailable", "queue": "ok", "redis": "ok"}
    stack.container.draining = True  # what stop() sets first: the balancer takes this process out
    draining = await _get(stack, "/readyz")
    assert (draining.status_code, draining.json()) == (503, {"status": "draining"})


async def test_details_need_an_admin_session_and_show_only_that_portal(stack: SandboxStack) -> None:
    assert stack.container is not None
    await stack.container.store.inbox.add_many(
        [NewInboxItem("another-portal", "k1", "ONIMBOTMESSAGEADD", {}, "another-portal:x")]
    )
    token = await application_token(stack, stack.member_id)
    assert (
        await post_event(stack, message_event(stack.member_id, token, message_id="880006"))
    ).status_code == 200

    anonymous = await _get(stack, "/healthz/details")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    forged = await _get(stack, "/healthz/details", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401

    employee_page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, EMPLOYEE))
    employee = await _get(
        stack, "/healthz/details", headers={"Authorization": f"Bearer {session_of(employee_page)}"}
    )
    assert employee.status_code == 403

    admin_page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN))
    admin = await _get(
        stack, "/healthz/details", headers={"Authorization": f"Bearer {session_of(admin_page)}"}
    )
    assert admin.status_code == 200
    body = admin.json()
    assert body["member_id"] == stack.member_id
    own = dict(await stack.container.store.inbox.counts(stack.member_id))
    everyone = dict(await stack.container.store.inbox.counts())
    assert body["inbox"] == own and sum(own.values()) >= 1
    assert sum(everyone.values()) == sum(own.values()) + 1  # the other portal's row is not shown


# --- docs ----------------------------------------------------------------------------------------------


async def test_no_swagger_page_from_a_cdn_but_the_schema_is_served(stack: SandboxStack) -> None:
    assert (await _get(stack, "/docs")).status_code == 404
    assert (await _get(stack, "/redoc")).status_code == 404
    schema = await _get(stack, "/openapi.json")
    assert schema.status_code == 200 and "/b24/events" in schema.json()["paths"]
