"""A portal admin's first hour, in a real browser: Debian's Chromium, headless, driven by Playwright
(``executable_path``; no browser download), against the portal emulator's own interface.

The admin adds the app with an interface; opening it shows our installer page in the portal's
frame, which binds the widgets and calls ``BX24.installFinish()``; the app then opens from the left
menu, three settings are changed with the form controls (one mistake shown next to its field
first), saved and seen saved after a reload; the portal language is switched; an employee is
refused. Screenshots at 1200 px and 360 px go to ``artifacts/browser/``; every request the browser
made is checked to have gone to the portal or to the app, nowhere else.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from b24claude.cli.stack import DEMO_CLIENT_ID, SandboxStack
from b24claude.conversations.app_settings import BotSettings
from b24claude.privacy.policy import PrivacyPolicy
from tests.required import missing

CHROMIUM = os.environ.get("B24C_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
ADMIN, EMPLOYEE = 1, 3
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.e2e


def _chromium() -> str:
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found is None:
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium; or set B24C_CHROMIUM)")
    return found


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v1")
    await s.start(install=False)
    await s.add_app_with_ui()
    try:
        yield s
    finally:
        await s.stop()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _stored(stack: SandboxStack) -> tuple[BotSettings, PrivacyPolicy]:
    assert stack.container is not None
    portal = await stack.container.store.portals.get(stack.member_id)
    assert portal is not None
    return BotSettings.from_settings(portal.settings), PrivacyPolicy.from_settings(portal.settings)


async def test_an_admin_installs_opens_and_configures_the_app_in_a_browser(stack: SandboxStack) -> None:
    from playwright.async_api import async_playwright, expect

    executable = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    portal = stack.portal.base_url
    admin_name = f"{stack.portal.users[ADMIN]['NAME']} {stack.portal.users[ADMIN]['LAST_NAME']}"
    requests: list[str] = []

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            wide = await browser.new_context(viewport={"width": 1200, "height": 900})
            wide.on("request", lambda r: requests.append(r.url))
            page = await wide.new_page()
            page.set_default_timeout(TIMEOUT_MS)

            # An employee opening the app before the admin finished: the portal's notice, no frame.
            await page.goto(f"{portal}/_sandbox/ui/app/{DEMO_CLIENT_ID}?user_id={EMPLOYEE}&lang=ru")
            await expect(page.locator("#unfinished")).to_contain_text("не установлено до конца")
            assert await page.locator("#left-menu a").count() == 0

            # The admin opens the new app: the installer page in the frame finishes the install,
            # the portal reloads and shows the app page itself.
            await page.goto(f"{portal}/_sandbox/ui/app/{DEMO_CLIENT_ID}?user_id={ADMIN}&lang=ru")
            frame = page.frame_locator("#app-frame")
            await expect(frame.locator("#who")).to_contain_text(f"Здравствуйте, {admin_name}")
            app = stack.portal.apps[DEMO_CLIENT_ID]
            assert app.finished
            bound = sorted((p.placement, p.handler) for p in stack.portal.placements)
            assert bound == [
                ("CONTACT_CENTER", f"{stack.app_url}/app?section=bot"),
                ("LEFT_MENU", f"{stack.app_url}/app"),
            ]
            # What the installer bound (the offline puller binds the CRM offline events and
            # ONOFFLINEEVENT on its own, once the portal is stored: tests/e2e/test_crm_changes.py).
            events = sorted(
                (b.event, b.handler)
                for b in stack.portal.event_bindings
                if not b.offline and b.event != "ONOFFLINEEVENT"
            )
            assert events == [
                ("ONAPPINSTALL", f"{stack.app_url}/b24/install"),
                ("ONAPPUNINSTALL", f"{stack.app_url}/b24/events"),
            ]
            # ONAPPINSTALL, sent on installFinish, stored the portal (through the install checks)
            # and registered the bot.
            for _ in range(200):
                if any(b.client_id == DEMO_CLIENT_ID for b in stack.portal.bots.values()):
                    break
                await asyncio.sleep(0.05)
            assert any(b.client_id == DEMO_CLIENT_ID for b in stack.portal.bots.values())

            # From the left menu, as the portal shows it now.
            await page.goto(f"{portal}/_sandbox/ui?user_id={ADMIN}&lang=ru")
            await page.locator("#left-menu a", has_text="Claude").click()
            await expect(frame.locator("#who")).to_contain_text("администратор Битрикс24")
            assert "/_sandbox/ui/placement/" in page.url
            assert await frame.locator("html").get_attribute("lang") == "ru"

            before_bot, before_privacy = await _stored(stack)
            # 1 and 2: the company name (text field) and the reply language (select).
            await frame.get_by_role("button", name="Бот").click()
            await frame.get_by_label("Название компании").fill("ООО «Ромашка»")
            await frame.get_by_label("Язык ответа, если язык клиента не ясен").select_option("en")
            bot_form = frame.locator("#section-bot form")
            await bot_form.get_by_role("button", name="Сохранить").click()
            await expect(bot_form.locator(".status")).to_contain_text("Сохранено")

            # 3: retention in days (number field) — first a wrong value, refused next to the field.
            await frame.get_by_role("button", name="Конфиденциальность").click()
            privacy_form = frame.locator("#section-privacy form")
            inbox_days = frame.get_by_label("Входящие события")
            await inbox_days.fill("99999")
            await frame.get_by_label("Учитывать согласие клиента").check()
            await privacy_form.get_by_role("button", name="Сохранить").click()
            await expect(frame.locator('[data-error-for="privacy.retention.inbox_days"]')).to_have_text(
                "Допустимо от 0 до 36500"
            )
            await expect(inbox_days).to_have_attribute("aria-invalid", "true")
            assert (await _stored(stack))[1] == before_privacy  # nothing of that form was stored
            await inbox_days.fill("7")
            await privacy_form.get_by_role("button", name="Сохранить").click()
            await expect(privacy_form.locator(".status")).to_contain_text("Сохранено")
            await expect(frame.locator('[data-error-for="privacy.retention.inbox_days"]')).to_have_text("")

            bot, privacy = await _stored(stack)
            assert (bot.company_name, bot.default_language) == ("ООО «Ромашка»", "en")
            assert bot.persona == before_bot.persona and bot.all_lines == before_bot.all_lines
            assert privacy.retention.inbox_days == 7 and privacy.respect_consent
            # A partial change: every field the admin did not touch kept its value.
            assert privacy.masked_types == before_privacy.masked_types
            assert privacy.retention.dialogues_days == before_privacy.retention.dialogues_days
            assert privacy.consented_masked_types == before_privacy.consented_masked_types

            # Seen saved: opened again, the controls show the stored values.
            await page.reload()
            await expect(frame.get_by_label("Название компании")).to_have_value("ООО «Ромашка»")
            await expect(frame.get_by_label("Язык ответа, если язык клиента не ясен")).to_have_value("en")
            await expect(frame.get_by_label("Входящие события")).to_have_value("7")
            await expect(frame.get_by_label("Учитывать согласие клиента")).to_be_checked()
            await page.screenshot(path=str(ARTIFACTS / "admin-ru-1200.png"), full_page=True)
            log = await page.evaluate("window.bx24Log")
            assert "getInitData" in log and "resizeWindow" in log  # BX24.init + fitWindow

            # The portal switched to English: the page follows, one language only; German → English.
            for lang in ("en", "de"):
                await page.goto(f"{portal}/_sandbox/ui?user_id={ADMIN}&lang={lang}")
                await page.locator("#left-menu a", has_text="Claude").click()
                await expect(frame.locator("#who")).to_contain_text(f"Hello, {admin_name}")
                await expect(frame.locator("nav")).to_contain_text("Privacy")
                body = await frame.locator("body").inner_text()
                assert "Сохранить" not in body and "Конфиденциальность" not in body
            await frame.get_by_role("button", name="Privacy").click()
            await page.screenshot(path=str(ARTIFACTS / "admin-en-1200.png"), full_page=True)

            # 360 px: usable, no sideways scrolling in the portal page or in our frame.
            narrow = await browser.new_context(viewport={"width": 360, "height": 740})
            narrow.on("request", lambda r: requests.append(r.url))
            phone = await narrow.new_page()
            phone.set_default_timeout(TIMEOUT_MS)
            await phone.goto(f"{portal}/_sandbox/ui/app/{DEMO_CLIENT_ID}?user_id={ADMIN}&lang=ru")
            small = phone.frame_locator("#app-frame")
            await expect(small.locator("#who")).to_be_visible()
            for key in ("Бот", "Открытые линии", "Конфиденциальность", "Согласия клиентов"):
                await small.get_by_role("button", name=key).click()
                app_frame = phone.frame(name="app-frame")
                assert app_frame is not None
                widths = await app_frame.evaluate(
                    "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
                assert widths[0] <= widths[1], (key, widths)
            outer = await phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert outer[0] <= outer[1], outer
            await small.get_by_role("button", name="Конфиденциальность").click()
            await phone.screenshot(path=str(ARTIFACTS / "admin-ru-360.png"), full_page=True)

            # An employee: sees the settings, cannot change them, and the API says so too.
            staff = await browser.new_context(viewport={"width": 1200, "height": 900})
            staff.on("request", lambda r: requests.append(r.url))
            employee = await staff.new_page()
            employee.set_default_timeout(TIMEOUT_MS)
            await employee.goto(f"{portal}/_sandbox/ui?user_id={EMPLOYEE}&lang=ru")
            await employee.locator("#left-menu a", has_text="Claude").click()
            theirs = employee.frame_locator("#app-frame")
            await expect(theirs.locator("#read-only")).to_contain_text("только администратор")
            await theirs.get_by_role("button", name="Бот").click()
            await expect(theirs.get_by_label("Название компании")).to_be_disabled()
            assert await theirs.get_by_role("button", name="Сохранить").count() == 0
            their_frame = employee.frame(name="app-frame")
            assert their_frame is not None
            status = await their_frame.evaluate(
                """async () => {
                  const token = document.querySelector('meta[name="b24c-session"]').content;
                  const r = await fetch("/app/api/settings", {method: "PATCH",
                    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                    body: JSON.stringify({bot: {company_name: "Чужая"}})});
                  return r.status;
                }"""
            )
            assert status == 403
            assert (await _stored(stack))[0].company_name == "ООО «Ромашка»"
            await employee.screenshot(path=str(ARTIFACTS / "employee-ru-1200.png"), full_page=True)
        finally:
            await browser.close()

    # Every request went to the portal or to the app: BX24.js came from the portal, nothing else.
    allowed = {_origin(portal), _origin(stack.app_url)}
    elsewhere = sorted({u for u in requests if u.startswith("http") and _origin(u) not in allowed})
    assert elsewhere == []
    assert f"{portal}/bitrix/js/rest/bx24.js" in requests
    assert any(u.startswith(f"{stack.app_url}/app") for u in requests)
    for name in ("admin-ru-1200.png", "admin-en-1200.png", "admin-ru-360.png", "employee-ru-1200.png"):
        assert (ARTIFACTS / name).stat().st_size > 1000

    # Removing the app: ONAPPUNINSTALL reaches the handler the installer bound (an app with an
    # interface hears of it only that way), and the portal is marked uninstalled.
    assert await stack.portal.uninstall_app(DEMO_CLIENT_ID) == 200
    assert stack.container is not None
    for _ in range(200):  # the worker handles the stored event
        gone = await stack.container.store.portals.get(stack.member_id)
        if gone is not None and not gone.installed:
            break
        await asyncio.sleep(0.05)
    assert gone is not None and not gone.installed


async def test_the_installer_page_refuses_a_frame_the_oauth_server_does_not_vouch_for(
    stack: SandboxStack,
) -> None:
    """A forged installer frame (a token the portal never issued) binds nothing and is not stored."""
    post = stack.portal.open_app_frame(DEMO_CLIENT_ID, ADMIN)
    form = {**post.form, "REFRESH_ID": "0" * 70}
    async with httpx.AsyncClient() as http:
        page = await http.post(f"{stack.app_url}/b24/install", params=post.query, data=form)
        employee = stack.portal.open_app_frame(DEMO_CLIENT_ID, EMPLOYEE)
        not_admin = await http.post(f"{stack.app_url}/b24/install", params=employee.query, data=employee.form)
    assert page.status_code == 401 and "b24c-session" not in page.text
    assert not_admin.status_code == 403
    assert stack.portal.placements == [] and stack.portal.event_bindings == []
    assert stack.container is not None
    assert await stack.container.store.portals.get(stack.member_id) is None
