"""App frames against the portal emulator: the frame POST Bitrix24 sends, ``user.current`` and
``user.admin`` under the opening user's token, and our client/gateway asking them (docs:
settings/oauth/simple-way.md, api-reference/widgets/_includes/widget_data.md,
api-reference/user/user-current.md, api-reference/common/users/user-admin.md)."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from b24claude.errors import Bitrix24AuthError, Bitrix24TransientError
from b24claude.ports.bitrix import FrameUser

from .test_bitrix24_client import CLIENT_ID, portal

pytestmark = pytest.mark.contract

# widget_data.md / simple-way.md: query part and body part of the frame POST.
FRAME_QUERY_KEYS = {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
FRAME_FORM_KEYS = {
    "AUTH_ID",
    "AUTH_EXPIRES",
    "REFRESH_ID",
    "SERVER_ENDPOINT",
    "APPLICATION_TOKEN",
    "APPLICATION_SCOPE",
    "member_id",
    "status",
    "PLACEMENT",
    "PLACEMENT_OPTIONS",
}


async def test_frame_post_has_the_documented_fields_and_a_token_of_that_user() -> None:
    async with portal() as env:
        post = env.state.open_app_frame(
            CLIENT_ID, 3, placement="CRM_DEAL_DETAIL_TAB", placement_options={"ID": "8"}
        )
        assert set(post.query) == FRAME_QUERY_KEYS and set(post.form) == FRAME_FORM_KEYS
        assert post.query["DOMAIN"] == env.state.config.domain
        assert post.form["member_id"] == env.member_id and post.form["AUTH_EXPIRES"] == "3600"
        assert json.loads(post.form["PLACEMENT_OPTIONS"]) == {"ID": "8"}
        async with httpx.AsyncClient() as http:
            url = f"{env.base_url}/rest/"
            me = (await http.post(url + "user.current", json={"auth": post.form["AUTH_ID"]})).json()
            admin = (await http.post(url + "user.admin", json={"auth": post.form["AUTH_ID"]})).json()
            boss = env.state.open_app_frame(CLIENT_ID, 1).form["AUTH_ID"]
            boss_admin = (await http.post(url + "user.admin", json={"auth": boss})).json()
        assert me["result"]["ID"] == "3" and "_ADMIN" not in me["result"]
        assert (admin["result"], boss_admin["result"]) == (False, True)


async def test_frames_only_for_installed_apps_and_active_employees() -> None:
    async with portal() as env:
        with pytest.raises(KeyError):
            env.state.open_app_frame("local.not.installed", 1)
        bot_like = env.state.add_employee("Робот")
        env.state.users[bot_like]["_BOT"] = True
        with pytest.raises(KeyError):
            env.state.open_app_frame(CLIENT_ID, bot_like)
        async with httpx.AsyncClient() as http:
            made = (
                await http.post(f"{env.base_url}/_sandbox/users", json={"first_name": "Ирина", "admin": True})
            ).json()
            frame = await http.post(
                f"{env.base_url}/_sandbox/frame", json={"client_id": CLIENT_ID, "user_id": made["id"]}
            )
        assert frame.status_code == 200 and frame.json()["form"]["member_id"] == env.member_id
        assert made["admin"] is True


async def test_gateway_verifies_a_frame_user_with_one_request_and_no_refresh() -> None:
    from b24claude.adapters.bitrix24 import Bitrix24Gateway

    async with portal() as env:
        client = env.client()
        gateway = Bitrix24Gateway(client)
        calls = env.rest_calls()
        user = await gateway.verify_frame_user(
            env.member_id, env.state.open_app_frame(CLIENT_ID, 4).form["AUTH_ID"]
        )
        seeded = env.state.users[4]
        assert user == FrameUser(user_id=4, is_admin=False, name=f"{seeded['NAME']} {seeded['LAST_NAME']}")
        assert env.rest_calls() == calls + 1  # user.current + user.admin in one batch
        assert await gateway.verify_frame_user(
            env.member_id, env.state.open_app_frame(CLIENT_ID, 1).form["AUTH_ID"]
        ) == FrameUser(1, True, f"{env.state.users[1]['NAME']} {env.state.users[1]['LAST_NAME']}")

        oauth = env.state.stats.oauth_requests
        for bad in ("f" * 70, ""):
            with pytest.raises(Bitrix24AuthError):
                await gateway.verify_frame_user(env.member_id, bad)
        expired = env.state.open_app_frame(CLIENT_ID, 4).form["AUTH_ID"]
        env.state.expire_tokens()
        with pytest.raises(Bitrix24AuthError) as info:
            await gateway.verify_frame_user(env.member_id, expired)
        assert info.value.code == "expired_token"
        assert env.state.stats.oauth_requests == oauth and client.stats.refreshes == 0


async def test_user_calls_go_to_the_stored_endpoint_only() -> None:
    async with portal() as env:
        client = env.client(max_wait_s=0.0)
        # Whatever the frame said, the client endpoint is the one stored at install.
        stored = env.store.get(env.member_id)
        env.store.put(replace(stored, client_endpoint="http://127.0.0.1:9/rest/"))
        token = env.state.open_app_frame(CLIENT_ID, 1).form["AUTH_ID"]
        with pytest.raises(Bitrix24TransientError):  # nothing listens there
            await client.call_as_user(env.member_id, token, "user.admin")
        assert env.state.stats.rest_calls == 0
        env.store.put(stored)
        client.forget(env.member_id)
        assert (await client.call_as_user(env.member_id, token, "user.admin")).result is True
