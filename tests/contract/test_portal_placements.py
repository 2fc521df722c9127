"""Widgets and the installer of an app with an interface, as the portal emulator has them (docs:
api-reference/widgets/placement-bind.md, placement-get.md, placement-unbind.md, left-menu.md,
settings/app-installation/installation-finish.md, sdk/bx24-js-sdk/system-functions/
bx24-install-finish.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from b24claude.sandbox.portal import PortalConfig, PortalState, create_portal_app
from b24claude.sandbox.portal.events import emit_app_event
from b24claude.sandbox.server import ServerHandle

pytestmark = pytest.mark.contract

CLIENT = "local.ui0test.00000001"
HANDLER = "https://app.example.com/app"
ADMIN, EMPLOYEE = 1, 3


@asynccontextmanager
async def ui_portal() -> AsyncIterator[tuple[PortalState, str]]:
    state = PortalState(PortalConfig())
    server = ServerHandle(create_portal_app(state))
    await server.start()
    state.config.public_base_url = server.base_url
    try:
        result = await state.install_app(
            client_id=CLIENT,
            client_secret="s",
            install_url="https://app.example.com/app/install",
            scopes=["placement", "user", "crm"],
            with_ui=True,
        )
        assert result.handler_status is None  # an app with an interface gets no ONAPPINSTALL POST
        yield state, server.base_url
    finally:
        await server.stop()
        await state.aclose()


async def call(base: str, method: str, token: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{base}/rest/{method}", json={"auth": token, **params})


def token_of(state: PortalState, user_id: int) -> str:
    return state.open_app_frame(CLIENT, user_id).form["AUTH_ID"]


async def test_installer_binds_widgets_that_show_only_after_install_finish() -> None:
    async with ui_portal() as (state, base):
        admin = token_of(state, ADMIN)
        info = (await call(base, "app.info", admin)).json()["result"]
        assert info["INSTALLED"] is False
        bound = await call(
            base,
            "placement.bind",
            admin,
            PLACEMENT="LEFT_MENU",
            HANDLER=HANDLER,
            TITLE="Claude",
            LANG_ALL={"en": {"TITLE": "Claude (en)"}},
            OPTIONS={"x": 1},
        )
        assert bound.json()["result"] is True
        got = (await call(base, "placement.get", admin)).json()["result"]
        assert got == [
            {
                "placement": "LEFT_MENU",
                "userId": 0,
                "handler": HANDLER,
                "options": [],  # LEFT_MENU keeps no OPTIONS (left-menu.md)
                "title": "Claude",
                "description": "",
                "langAll": {"en": {"TITLE": "Claude (en)"}},
            }
        ]
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/_sandbox/menu")).json() == []  # not shown yet
            finish = await http.post(f"{base}/_sandbox/install-finish", json={"client_id": CLIENT})
            assert finish.json() == {"finished": True}
            menu = (await http.get(f"{base}/_sandbox/menu", params={"lang": "en"})).json()
            again = await http.post(f"{base}/_sandbox/install-finish", json={"client_id": CLIENT})
        assert [(m["title"], m["handler"]) for m in menu] == [("Claude (en)", HANDLER)]
        assert again.json() == {"finished": False}  # no effect once installed
        assert (await call(base, "app.info", admin)).json()["result"]["INSTALLED"] is True


async def test_bind_errors_and_unbind() -> None:
    async with ui_portal() as (state, base):
        admin, employee = token_of(state, ADMIN), token_of(state, EMPLOYEE)
        refused = await call(base, "placement.bind", employee, PLACEMENT="LEFT_MENU", HANDLER=HANDLER)
        assert refused.status_code == 403 and refused.json()["error"] == "ACCESS_DENIED"
        empty = await call(base, "placement.bind", admin, PLACEMENT="", HANDLER=HANDLER)
        assert (empty.status_code, empty.json()["error"]) == (200, "ERROR_ARGUMENT")
        user_mode = await call(
            base, "placement.bind", admin, PLACEMENT="LEFT_MENU", HANDLER=HANDLER, USER_ID=1
        )
        assert user_mode.json()["error"] == "ERROR_PLACEMENT_USER_MODE"
        for _ in range(2):
            await call(base, "placement.bind", admin, PLACEMENT="REST_APP_URI", HANDLER=HANDLER)
        assert len((await call(base, "placement.get", admin)).json()["result"]) == 1
        await call(base, "placement.bind", admin, PLACEMENT="LEFT_MENU", HANDLER=HANDLER)
        await call(base, "placement.bind", admin, PLACEMENT="LEFT_MENU", HANDLER=HANDLER + "?settings=1")
        gone = await call(base, "placement.unbind", admin, PLACEMENT="LEFT_MENU", HANDLER=HANDLER)
        assert gone.json()["result"] == {"count": 1}
        gone_all = await call(base, "placement.unbind", admin, PLACEMENT="LEFT_MENU")
        assert gone_all.json()["result"] == {"count": 1}


async def test_no_events_until_install_finish() -> None:
    async with ui_portal() as (state, base):
        admin = token_of(state, ADMIN)
        bound = await call(
            base, "event.bind", admin, event="ONCRMDEALUPDATE", handler="http://127.0.0.1:9/events"
        )
        assert bound.json()["result"] is True
        emit_app_event(state, "ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}}, user_id=ADMIN)
        assert state.delivery_log == []
        state.install_finish(CLIENT)
        emit_app_event(state, "ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}}, user_id=ADMIN)
        await state.deliverer.drain()
        assert [d.event for d in state.delivery_log] == ["ONCRMDEALUPDATE"]


async def test_an_app_with_an_interface_hears_of_its_removal_only_through_event_bind() -> None:
    async with ui_portal() as (state, _base):
        state.install_finish(CLIENT)
        assert await state.uninstall_app(CLIENT) is None
        assert state.placements == []


async def test_install_finish_sends_onappinstall_to_the_handler_the_installer_bound() -> None:
    """on-app-install.md: the handler may be set in the install script; no events before the
    install is finished — so it arrives once installFinish is called, with the app's token."""
    async with ui_portal() as (state, base):
        admin = token_of(state, ADMIN)
        handler = "http://127.0.0.1:9/b24/install"
        bound = await call(base, "event.bind", admin, event="ONAPPINSTALL", handler=handler)
        assert bound.json()["result"] is True
        assert state.delivery_log == []
        async with httpx.AsyncClient() as http:
            finish = await http.post(f"{base}/_sandbox/install-finish", json={"client_id": CLIENT})
        assert finish.json() == {"finished": True}
        assert [(d.event, d.url) for d in state.delivery_log] == [("ONAPPINSTALL", handler)]


async def test_the_portal_serves_bx24_js_and_its_interface_around_the_app() -> None:
    async with ui_portal() as (_state, base):
        async with httpx.AsyncClient() as http:
            script = await http.get(f"{base}/bitrix/js/rest/bx24.js")
            employee = await http.get(f"{base}/_sandbox/ui/app/{CLIENT}", params={"user_id": EMPLOYEE})
            admin = await http.get(
                f"{base}/_sandbox/ui/app/{CLIENT}", params={"user_id": ADMIN, "lang": "en"}
            )
        assert script.status_code == 200 and script.headers["content-type"].startswith(
            "application/javascript"
        )
        assert f'var PORTAL = "{base}";' in script.text and "installFinish" in script.text
        # Not finished: an employee gets the portal's notice, the admin the installer in a frame.
        assert "не установлено до конца" in employee.text and "app-frame" not in employee.text
        assert 'action="https://app.example.com/app/install?DOMAIN=' in admin.text
        assert 'name="REFRESH_ID"' in admin.text and '"INSTALL": true' in admin.text
