"""The app page inside Bitrix24 and its settings API: the frame is checked with the portal itself,
admins alone change settings, and a session of one portal never reaches another portal's data."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import pytest

from b24claude.cli.stack import DEMO_CLIENT_ID, SandboxStack
from b24claude.privacy.policy import PrivacyPolicy
from tests.e2e.portals import OTHER_DOMAIN, Portal, api, open_frame, second_portal, session_of

ADMIN, EMPLOYEE = 1, 3  # seeded: user 1 is the portal's administrator, user 3 a sales manager


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v1")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def other(stack: SandboxStack) -> AsyncIterator[Portal]:
    async with second_portal(stack) as portal:
        yield portal


async def _session(stack: SandboxStack, user_id: int) -> str:
    page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, user_id))
    assert page.status_code == 200, page.text
    return session_of(page)


async def _settings(stack: SandboxStack, member_id: str) -> PrivacyPolicy:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(member_id)
    assert portal is not None
    return PrivacyPolicy.from_settings(portal.settings)


async def _audit(stack: SandboxStack, member_id: str) -> list[tuple[str, str, str]]:
    assert stack.container is not None
    return [(r.action, r.actor, r.subject) for r in await stack.container.store.audit.list(member_id)]


# --- the frame --------------------------------------------------------------------------------------


async def test_admin_opens_the_page_in_the_portal_language_only(stack: SandboxStack) -> None:
    page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN, lang="ru"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    user = stack.portal.users[ADMIN]
    assert f"Здравствуйте, {user['NAME']} {user['LAST_NAME']}" in page.text
    assert "Паспорта" in page.text and "Сохранить" in page.text
    assert "Passports" not in page.text and ">Save<" not in page.text
    # BX24.js from the portal itself (its client endpoint's host), under the page's nonce.
    assert f'src="{stack.portal.base_url}/bitrix/js/rest/bx24.js"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors https://sandbox.bitrix24.ru" in page.headers["content-security-policy"]
    assert session_of(page)


async def test_employee_page_has_no_editor(stack: SandboxStack) -> None:
    page = await open_frame(stack, stack.portal.open_app_frame(DEMO_CLIENT_ID, EMPLOYEE, lang="en"))
    assert page.status_code == 200
    assert "Claude for Bitrix24" in page.text and "Конфиденциальность" not in page.text
    assert "Only a Bitrix24 administrator" in page.text and ">Save<" not in page.text
    assert page.text.count("<fieldset disabled>") == 3  # bot, lines, privacy: read-only


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ({}, {"AUTH_ID": "0" * 70}),  # a token the portal never issued
        ({"DOMAIN": "evil.bitrix24.ru"}, {}),  # the stored domain does not match
        ({}, {"member_id": "c" * 32}),  # a portal that never installed us
        ({}, {"AUTH_ID": ""}),
        ({}, {"APPLICATION_TOKEN": "f" * 32}),
        ({}, {"AUTH_ID[0]": "x"}),  # a group where a value belongs
    ],
)
async def test_forged_frames_are_401_and_never_refresh_tokens(
    stack: SandboxStack, query: dict[str, str], form: dict[str, str]
) -> None:
    post = stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN)
    if "AUTH_ID[0]" in form:
        post.form.pop("AUTH_ID")
    oauth_before = stack.portal.stats.oauth_requests
    page = await open_frame(stack, post, query=query, form=form)
    assert page.status_code == 401
    assert "Не удалось подтвердить вход" in page.text and "b24c-session" not in page.text
    # A refused AUTH_ID must not be "cured" with the app's own refresh token.
    assert stack.portal.stats.oauth_requests == oauth_before


async def test_frame_of_portal_a_with_portal_b_auth_id_is_401(stack: SandboxStack, other: Portal) -> None:
    post_a = stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN)
    post_b = other.state.open_app_frame(DEMO_CLIENT_ID, ADMIN)
    assert post_b.form["member_id"] != post_a.form["member_id"]
    page = await open_frame(stack, post_a, form={"AUTH_ID": post_b.form["AUTH_ID"]})
    assert page.status_code == 401
    # B's own frame, with B's domain, is fine: the check is per portal, not "first portal wins".
    assert post_b.query["DOMAIN"] == OTHER_DOMAIN
    assert (await open_frame(stack, post_b)).status_code == 200


async def test_frame_checks_are_rate_limited_per_portal(stack: SandboxStack, other: Portal) -> None:
    post = stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN)
    statuses = [(await open_frame(stack, post, form={"AUTH_ID": f"{i:070d}"})).status_code for i in range(12)]
    assert set(statuses) == {401, 429} and statuses.count(429) >= 1
    rest_calls = stack.portal.stats.rest_calls
    limited = await open_frame(stack, post)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert stack.portal.stats.rest_calls == rest_calls  # refused before asking the portal
    assert (await open_frame(stack, other.state.open_app_frame(DEMO_CLIENT_ID, ADMIN))).status_code == 200


# --- the settings API -------------------------------------------------------------------------------


async def test_any_user_reads_settings_admin_changes_them_with_an_audit_record(stack: SandboxStack) -> None:
    employee, admin = await _session(stack, EMPLOYEE), await _session(stack, ADMIN)
    got = await api(stack, "GET", "/app/api/privacy", employee)
    assert got.status_code == 200
    assert got.json()["user"] == {"id": EMPLOYEE, "admin": False}
    assert got.json()["privacy"] == PrivacyPolicy().to_dict()

    wanted = {"masked_types": ["card", "passport"], "respect_consent": True, "retention": {"inbox_days": 7}}
    put = await api(stack, "PUT", "/app/api/privacy", admin, json=wanted)
    assert put.status_code == 200, put.text
    stored = await _settings(stack, stack.member_id)
    assert stored.masked_types == {"card", "passport"} and stored.respect_consent
    assert stored.retention.inbox_days == 7
    assert (await api(stack, "GET", "/app/api/privacy", employee)).json()["privacy"] == stored.to_dict()
    assert ("settings", f"admin:{ADMIN}", "") in await _audit(stack, stack.member_id)


async def test_admin_records_a_consent(stack: SandboxStack) -> None:
    assert stack.container is not None
    admin = await _session(stack, ADMIN)
    put = await api(stack, "PUT", "/app/api/consents/user:501", admin, json={"granted": True})
    assert put.status_code == 200, put.text
    assert await stack.container.store.consents.get(stack.member_id, "user:501") is True
    assert ("consent", f"admin:{ADMIN}", "user:501") in await _audit(stack, stack.member_id)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/app/api/privacy", {"masked_types": []}), ("/app/api/consents/user:501", {"granted": True})],
)
async def test_non_admin_changes_are_403_and_change_nothing(
    stack: SandboxStack, path: str, body: dict[str, object]
) -> None:
    assert stack.container is not None
    employee = await _session(stack, EMPLOYEE)
    before = (await _settings(stack, stack.member_id), await _audit(stack, stack.member_id))
    resp = await api(stack, "PUT", path, employee, json=body)
    assert resp.status_code == 403
    # Refused before the body is read: a broken body from a non-admin is 403 too.
    assert (await api(stack, "PUT", path, employee, content=b"{", timeout=5)).status_code == 403
    assert (await _settings(stack, stack.member_id), await _audit(stack, stack.member_id)) == before
    assert await stack.container.store.consents.get(stack.member_id, "user:501") is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"masked_types": ["phone", "horoscope"]}, "unknown PII types horoscope"),
        ({"retention": {"inbox_days": -1}}, "retention.inbox_days"),
        ({"respect_consent": "yes"}, "respect_consent must be true or false"),
        ({"paranoia": True}, "unknown privacy settings: paranoia"),
        ([1, 2], "JSON object"),
    ],
)
async def test_invalid_settings_are_400_with_the_reason(
    stack: SandboxStack, body: object, reason: str
) -> None:
    admin = await _session(stack, ADMIN)
    before = (await _settings(stack, stack.member_id), await _audit(stack, stack.member_id))
    resp = await api(stack, "PUT", "/app/api/privacy", admin, json=body)
    assert resp.status_code == 400
    assert reason in resp.json()["reason"]
    assert (await _settings(stack, stack.member_id), await _audit(stack, stack.member_id)) == before


async def test_missing_or_forged_sessions_are_401(stack: SandboxStack) -> None:
    real = await _session(stack, EMPLOYEE)
    body, mac = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    promoted = base64.urlsafe_b64encode(json.dumps({**claims, "a": True}).encode()).rstrip(b"=").decode()
    for token in (None, "garbage", f"{promoted}.{mac}", real + "x"):
        resp = await api(stack, "GET", "/app/api/privacy", token)
        assert resp.status_code == 401, token
        assert resp.headers["www-authenticate"] == "Bearer"
    basic = await api(stack, "GET", "/app/api/privacy", None, headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401


# --- one portal never reaches another ------------------------------------------------------------------


async def test_a_session_of_portal_a_only_ever_sees_and_changes_portal_a(
    stack: SandboxStack, other: Portal
) -> None:
    assert stack.container is not None
    b_admin = session_of(await open_frame(stack, other.state.open_app_frame(DEMO_CLIENT_ID, ADMIN)))
    assert (
        await api(stack, "PUT", "/app/api/privacy", b_admin, json={"masked_types": ["email"]})
    ).status_code == 200
    b_before = (await _settings(stack, other.member_id), await _audit(stack, other.member_id))

    a_admin = await _session(stack, ADMIN)
    # No route takes a portal from the request: naming portal B anywhere changes nothing.
    seen = await api(stack, "GET", "/app/api/privacy", a_admin, params={"member_id": other.member_id})
    assert seen.json()["privacy"]["masked_types"] == PrivacyPolicy().to_dict()["masked_types"]
    put = await api(
        stack,
        "PUT",
        "/app/api/privacy",
        a_admin,
        json={"masked_types": ["name"]},
        params={"member_id": other.member_id},
        headers={"X-Member-Id": other.member_id},
    )
    assert put.status_code == 200
    await api(stack, "PUT", "/app/api/consents/user:7", a_admin, json={"granted": True})

    assert (await _settings(stack, stack.member_id)).masked_types == {"name"}
    assert (await _settings(stack, other.member_id), await _audit(stack, other.member_id)) == b_before
    assert await stack.container.store.consents.get(other.member_id, "user:7") is None
    # B's session still sees B's own settings.
    assert (await api(stack, "GET", "/app/api/privacy", b_admin)).json()["privacy"]["masked_types"] == [
        "email"
    ]


async def test_sessions_die_with_the_portal_install(stack: SandboxStack) -> None:
    admin = await _session(stack, ADMIN)
    assert (await api(stack, "GET", "/app/api/privacy", admin)).status_code == 200
    await stack.portal.uninstall_app(DEMO_CLIENT_ID)
    for _ in range(200):  # ONAPPUNINSTALL is handled by the worker
        status = (await api(stack, "GET", "/app/api/privacy", admin)).status_code
        if status != 200:
            break
        await asyncio.sleep(0.05)
    assert status == 401
