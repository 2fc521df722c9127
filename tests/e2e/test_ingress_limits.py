"""Hardened ingress: replays, size limits, per-portal rate limits, cross-portal tokens, v2 ownership."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from b24claude.cli.stack import SandboxStack
from b24claude.events.parse import MAX_MESSAGE_CHARS
from tests.e2e.portals import (
    Portal,
    application_token,
    inbox_total,
    message_event,
    post_event,
    second_portal,
)

MAX_AGE_S = 600.0


def _nested(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"leaf": "1"}
    for level in range(depth):
        node = {f"L{level}": node}
    return node


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    # A tiny allowance so that a flood is over the limit whatever the machine's speed.
    s = SandboxStack(
        bot_api="v1",
        settings_overrides={"ingress_rate_per_s": 0.001, "ingress_burst": 3, "event_max_age_s": MAX_AGE_S},
    )
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def other(stack: SandboxStack) -> AsyncIterator[Portal]:
    async with second_portal(stack) as portal:
        yield portal


async def _token(stack: SandboxStack) -> str:
    return await application_token(stack, stack.member_id)


# --- replay ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        (-MAX_AGE_S - 60, "replay"),  # seconds from now, taken when the test runs
        (MAX_AGE_S + 60, "replay"),
        ("", "ts"),
        ("nan", "ts"),
        ("1.5e9", "ts"),
    ],
)
async def test_an_old_or_timeless_event_is_400_and_stores_nothing(
    stack: SandboxStack, ts: float | str, reason: str
) -> None:
    body = message_event(stack.member_id, await _token(stack), message_id="880001")
    body["ts"] = str(int(time.time() + ts)) if isinstance(ts, float) else ts
    before = await inbox_total(stack)
    resp = await post_event(stack, body)
    assert resp.status_code == 400
    assert reason in resp.json()["reason"]
    assert await inbox_total(stack) == before


async def test_a_replayed_install_cannot_roll_tokens_back(stack: SandboxStack) -> None:
    """An old ONAPPINSTALL carries the portal's own application token: only its age gives it away."""
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    body = {
        "event": "ONAPPINSTALL",
        "data": {"VERSION": "1", "LANGUAGE_ID": "ru"},
        "ts": str(int(time.time() - 2 * MAX_AGE_S)),
        "auth": {
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "expires_in": "3600",
            "domain": portal.domain,
            "client_endpoint": portal.auth.client_endpoint,
            "server_endpoint": portal.auth.server_endpoint,
            "member_id": stack.member_id,
            "application_token": portal.application_token,
        },
    }
    resp = await post_event(stack, body)
    assert resp.status_code == 400 and "replay" in resp.json()["reason"]
    after = await stack.container.store.portals.get(stack.member_id)
    assert after is not None and after.auth.access_token == portal.auth.access_token


# --- size limits ----------------------------------------------------------------------------------------


async def test_message_text_over_bitrix24s_own_limit_is_400(stack: SandboxStack) -> None:
    token = await _token(stack)
    before = await inbox_total(stack)
    long = message_event(stack.member_id, token, message_id="880010", text="я" * (MAX_MESSAGE_CHARS + 1))
    resp = await post_event(stack, long)
    assert resp.status_code == 400 and "MESSAGE" in resp.json()["reason"]
    fits = message_event(stack.member_id, token, message_id="880011", text="я" * MAX_MESSAGE_CHARS)
    assert (await post_event(stack, fits)).status_code == 200
    assert await inbox_total(stack) == before + 1


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"data": {"K" * 600: "1"}}, "key longer"),
        ({"data": {"BLOB": "x" * 100_001}}, "value of"),
        ({"data": {f"F{i}": "1" for i in range(5001)}}, "fields"),
        ({"data": _nested(16)}, "deeper"),
    ],
)
async def test_form_limits_are_400(stack: SandboxStack, extra: dict[str, object], reason: str) -> None:
    body = message_event(stack.member_id, await _token(stack), message_id="880020")
    body["data"] = {**body["data"], **extra["data"]}  # type: ignore[dict-item]
    before = await inbox_total(stack)
    resp = await post_event(stack, body)
    assert resp.status_code == 400 and reason in resp.json()["reason"]
    assert await inbox_total(stack) == before


# --- tokens across portals, flood -------------------------------------------------------------------------


async def test_event_for_portal_a_with_portal_b_token_is_401(stack: SandboxStack, other: Portal) -> None:
    token_b = await application_token(stack, other.member_id)
    assert token_b != await _token(stack)
    before = await inbox_total(stack)
    resp = await post_event(stack, message_event(stack.member_id, token_b, message_id="880030"))
    assert resp.status_code == 401
    resp = await post_event(stack, message_event(other.member_id, await _token(stack), message_id="880031"))
    assert resp.status_code == 401
    assert await inbox_total(stack) == before


async def test_a_flood_from_portal_a_is_429_while_portal_b_is_still_accepted(
    stack: SandboxStack, other: Portal
) -> None:
    token_a, token_b = await _token(stack), await application_token(stack, other.member_id)
    # The install event of each portal already took one token of its burst of 3.
    before = await inbox_total(stack)
    answers = [
        await post_event(stack, message_event(stack.member_id, token_a, message_id=f"8801{i:02d}"))
        for i in range(8)
    ]
    statuses = [r.status_code for r in answers]
    assert statuses[:2] == [200, 200] and set(statuses[2:]) == {429}
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers[2:])
    assert await inbox_total(stack) == before + 2  # nothing stored from a refused request

    resp = await post_event(stack, message_event(other.member_id, token_b, message_id="880200"))
    assert (resp.status_code, resp.json()["result"]) == (200, "stored")
    # Forged events naming portal B do not spend B's allowance: they are refused before counting.
    for i in range(5):
        forged = await post_event(stack, message_event(other.member_id, "0" * 32, message_id=f"88030{i}"))
        assert forged.status_code == 401
    resp = await post_event(stack, message_event(other.member_id, token_b, message_id="880201"))
    assert resp.status_code == 200


# --- imbot.v2: only our bot's events ---------------------------------------------------------------------


async def test_fetched_events_naming_another_bot_are_dropped() -> None:
    async with SandboxStack(bot_api="v2") as s:
        assert s.container is not None
        bot = next(iter(s.portal.bots.values()))
        msg = await s.portal.customer_writes("Здравствуйте!", "anna")
        await s.wait_reply(msg.chat_id, after_id=msg.id)
        before = await inbox_total(s)
        # An event in our queue that names another bot (it cannot come from Bitrix24's own fetch).
        event_id = s.portal.next_id("v2event", 1000)
        data = {"bot": {"id": bot.id + 1000, "code": "stranger"}, "message": {"id": 1, "text": "hi"}}
        bot.events.append({"eventId": event_id, "type": "ONIMBOTV2MESSAGEADD", "date": "", "data": data})
        s.container.puller.wake()
        for _ in range(200):
            if s.container.inbox_service.dropped_foreign_v2:
                break
            await asyncio.sleep(0.02)
        assert s.container.inbox_service.dropped_foreign_v2 == 1
        assert await inbox_total(s) == before
