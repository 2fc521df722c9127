"""The Bitrix24 portal emulator held to the reference (reference/bitrix24.md, bitrix24_fixtures/).

Everything runs over real loopback HTTP with raw httpx; event handlers are tiny FastAPI apps that record
what the portal POSTs. Key sets below are copied from the fixtures named next to them; values are ours.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from b24claude.kit import phpform
from b24claude.sandbox.portal import ManualClock, PortalConfig, PortalState, create_portal_app
from b24claude.sandbox.server import ServerHandle

pytestmark = pytest.mark.contract

# bitrix24_fixtures/ONAPPINSTALL.json "form"
ONAPPINSTALL_FORM_KEYS = [
    "event",
    "data[VERSION]",
    "data[ACTIVE]",
    "data[INSTALLED]",
    "data[LANGUAGE_ID]",
    "ts",
    "auth[access_token]",
    "auth[expires_in]",
    "auth[scope]",
    "auth[domain]",
    "auth[server_endpoint]",
    "auth[status]",
    "auth[client_endpoint]",
    "auth[member_id]",
    "auth[refresh_token]",
    "auth[application_token]",
]
_AUTH = [
    "access_token",
    "expires",
    "expires_in",
    "scope",
    "domain",
    "server_endpoint",
    "status",
    "client_endpoint",
    "member_id",
    "refresh_token",
    "user_id",
    "client_id",
    "application_token",
]
# bitrix24_fixtures/ONIMBOTMESSAGEADD_openlines.json "form" (bot id replaced by {bot})
MESSAGEADD_FORM_KEYS = [
    "event",
    "event_handler_id",
    *[f"data[BOT][{{bot}}][{k}]" for k in _AUTH],
    *[f"data[BOT][{{bot}}][AUTH][{k}]" for k in _AUTH],
    "data[BOT][{bot}][BOT_ID]",
    "data[BOT][{bot}][BOT_CODE]",
    *[
        f"data[PARAMS][{k}]"
        for k in [
            "MESSAGE",
            "TEMPLATE_ID",
            "MESSAGE_TYPE",
            "FROM_USER_ID",
            "DIALOG_ID",
            "TO_CHAT_ID",
            "AUTHOR_ID",
            "SYSTEM",
            "CHAT_ID",
            "CHAT_TITLE",
            "CHAT_AUTHOR_ID",
            "CHAT_TYPE",
            "CHAT_AVATAR",
            "CHAT_COLOR",
            "CHAT_ENTITY_TYPE",
            "CHAT_ENTITY_ID",
            "CHAT_ENTITY_DATA_1",
            "CHAT_ENTITY_DATA_2",
            "CHAT_ENTITY_DATA_3",
            "CHAT_EXTRANET",
            "CHAT_PREV_MESSAGE_ID",
            "CHAT_CAN_POST",
            "RID",
            "IS_MANAGER",
            "PUSH",
            "PUSH_IMPORTANT",
            "RECENT_SKIP_AUTHOR",
            "CONVERT",
            "SKIP_COMMAND",
            "SKIP_COUNTER_INCREMENTS",
            "SILENT_CONNECTOR",
            "SKIP_CONNECTOR",
            "IMPORTANT_CONNECTOR",
            "NO_SESSION_OL",
            "FAKE_RELATION",
            "SKIP_URL_INDEX",
            "COMMAND_CONTEXT",
            "CHAT_USER_COUNT",
            "PLATFORM_CONTEXT",
            "MESSAGE_ID",
            "LANGUAGE",
        ]
    ],
    *[
        f"data[USER][{k}]"
        for k in [
            "ID",
            "NAME",
            "FIRST_NAME",
            "LAST_NAME",
            "WORK_POSITION",
            "GENDER",
            "IS_BOT",
            "IS_CONNECTOR",
            "IS_NETWORK",
            "IS_EXTRANET",
        ]
    ],
    "ts",
    *[
        f"auth[{k}]"
        for k in [
            "access_token",
            "expires",
            "expires_in",
            "scope",
            "domain",
            "server_endpoint",
            "status",
            "client_endpoint",
            "member_id",
            "user_id",
            "application_token",
        ]
    ],
]
# bitrix24_fixtures/oauth_token_refresh_response.json "body"
OAUTH_KEYS = {
    "access_token",
    "client_endpoint",
    "domain",
    "expires",
    "expires_in",
    "member_id",
    "refresh_token",
    "scope",
    "server_endpoint",
    "status",
    "user_id",
}
# bitrix24_fixtures/imopenlines.dialog.get_response.json "body.result" / "body.time"
DIALOG_KEYS = {
    "avatar",
    "background_id",
    "color",
    "counter",
    "date_create",
    "description",
    "dialog_id",
    "disk_folder_id",
    "entity_data_1",
    "entity_data_2",
    "entity_data_3",
    "entity_id",
    "entity_link",
    "entity_type",
    "extranet",
    "id",
    "last_id",
    "last_message_id",
    "manager_list",
    "marked_id",
    "message_count",
    "message_type",
    "mute_list",
    "name",
    "owner",
    "parent_chat_id",
    "parent_message_id",
    "public",
    "role",
    "text_field_enabled",
    "type",
    "unread_id",
    "user_counter",
}
TIME_KEYS = {
    "date_finish",
    "date_start",
    "duration",
    "finish",
    "operating",
    "operating_reset_at",
    "processing",
    "start",
}
# bitrix24_fixtures/batch_response_mixed.json, crm.item.list_deals_page_response.json
BATCH_KEYS = {"result", "result_error", "result_next", "result_time", "result_total"}
ITEM_PAGE_KEYS = {"next", "result", "time", "total"}
ITEM_KEYS = {
    "assignedById",
    "categoryId",
    "companyId",
    "contactId",
    "createdTime",
    "currencyId",
    "id",
    "opportunity",
    "stageId",
    "title",
    "updatedTime",
}
# bitrix24_fixtures/rest_error_responses.json (status, error) pairs we reproduce
CLIENT_ID = "local.6720f1a2b3c4d5.12345678"
SECRET = "s3cr3t-of-the-local-app"


@dataclass
class Recorder:
    """A handler app on its own loopback port that records every POST body."""

    posts: list[tuple[str, str, bytes]] = field(default_factory=list)
    status: int = 200

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def record(path: str, request: Request) -> JSONResponse:
            self.posts.append((path, request.headers.get("content-type", ""), await request.body()))
            return JSONResponse({"ok": True}, status_code=self.status)

        return app

    def forms(self, event: str) -> list[list[tuple[str, str]]]:
        out = []
        for _, ctype, body in self.posts:
            if "x-www-form-urlencoded" in ctype:
                pairs = parse_qsl(body.decode(), keep_blank_values=True)
                if ("event", event) in pairs:
                    out.append(pairs)
        return out


@dataclass
class Portal:
    state: PortalState
    clock: ManualClock
    http: httpx.AsyncClient
    base: str
    token: str = ""

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        body = {**(params or {}), "auth": token if token is not None else self.token}
        return await self.http.post(f"/rest/{method}", json=body)

    async def ok(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        response = await self.call(method, params, **kw)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    clock = ManualClock(1_766_050_000.0)
    state = PortalState(PortalConfig(clock=clock))
    async with ServerHandle(create_portal_app(state)) as server:
        state.config.public_base_url = server.base_url
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
            yield Portal(state, clock, http, server.base_url)
        await state.aclose()


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    async with ServerHandle(rec.app()) as server:
        yield rec, server.base_url


async def _install(portal: Portal, url: str | None = None, scopes: list[str] | None = None) -> Any:
    result = await portal.state.install_app(
        client_id=CLIENT_ID, client_secret=SECRET, install_url=url, scopes=scopes
    )
    portal.token = result.access_token
    return result


# ----- routing, envelope, errors ------------------------------------------------------------------
async def test_envelope_routing_and_error_bodies(portal: Portal) -> None:
    await _install(portal)
    body = await portal.ok("user.current")
    assert body["result"]["ID"] == "1" and set(body["time"]) == TIME_KEYS
    # case-insensitive names, .json suffix, auth in the query, form body with PHP brackets
    r = await portal.http.post(
        f"/rest/CRM.Contact.List.json?auth={portal.token}",
        content="filter[%3EID]=905&select[0]=ID&select[1]=NAME",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"] and all(
        int(c["ID"]) > 905 and set(c) == {"ID", "NAME"} for c in r.json()["result"]
    )
    r = await portal.http.get("/rest/crm.deal.get", params={"id": "471", "auth": portal.token})
    assert r.json()["result"]["ID"] == "471"

    errors = [
        (await portal.call("crm.nosuch.method"), 404, "ERROR_METHOD_NOT_FOUND"),
        (await portal.call("crm.deal.get", {"id": 999999}), 400, ""),
        (await portal.call("crm.contact.get", {"id": 999999}), 400, ""),
        (await portal.call("crm.item.get", {"entityTypeId": 2, "id": 999999}), 400, "NOT_FOUND"),
        (await portal.call("user.current", token="garbage"), 401, "invalid_token"),
        (await portal.http.post("/rest/user.current", json={}), 401, "NO_AUTH_FOUND"),
    ]
    for response, status, code in errors:
        assert response.status_code == status, response.text
        assert set(response.json()) == {"error", "error_description"}
        assert response.json()["error"] == code
    assert (await portal.call("crm.deal.get", {"id": 999999})).json()["error_description"] == "Not found"


async def test_insufficient_scope(portal: Portal) -> None:
    await _install(portal, scopes=["user", "imbot"])
    r = await portal.call("crm.deal.list")
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    assert (await portal.call("user.current")).status_code == 200


# ----- OAuth, install, expiry ---------------------------------------------------------------------
async def test_install_posts_onappinstall_form(portal: Portal, recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    result = await _install(portal, f"{url}/install")
    assert result.handler_status == 200
    [form] = rec.forms("ONAPPINSTALL")
    assert [k for k, _ in form] == ONAPPINSTALL_FORM_KEYS
    values = dict(form)
    assert values["auth[access_token]"] == result.access_token
    assert values["auth[client_endpoint]"] == f"{portal.base}/rest/"
    assert values["auth[member_id]"] == result.member_id and len(result.member_id) == 32
    assert values["auth[application_token]"] == result.application_token
    assert values["auth[status]"] == "L"


async def test_refresh_rotates_and_old_refresh_token_dies(portal: Portal) -> None:
    installed = await _install(portal)
    query = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "refresh_token": installed.refresh_token,
    }
    r = await portal.http.get("/oauth/token/", params=query)
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert set(fresh) == OAUTH_KEYS
    assert fresh["client_endpoint"] == fresh["server_endpoint"] == f"{portal.base}/rest/"
    assert (
        fresh["refresh_token"] != installed.refresh_token and fresh["access_token"] != installed.access_token
    )
    again = await portal.http.get("/oauth/token/", params=query)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    bad_client = await portal.http.get(
        "/oauth/token/", params={**query, "client_secret": "nope", "refresh_token": fresh["refresh_token"]}
    )
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    assert (await portal.ok("user.current", token=fresh["access_token"]))["result"]["ID"] == "1"
    # authorization_code grant, one-time code
    code = portal.state.issue_auth_code(CLIENT_ID, user_id=3)
    grant = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code,
    }
    r = await portal.http.post("/oauth/token/", data=grant)
    assert r.status_code == 200 and r.json()["user_id"] == 3
    assert (await portal.http.post("/oauth/token/", data=grant)).json()["error"] == "invalid_grant"


async def test_access_token_expires_with_the_clock(portal: Portal) -> None:
    await _install(portal)
    assert (await portal.call("user.current")).status_code == 200
    portal.clock.advance(3601)
    r = await portal.call("user.current")
    assert (r.status_code, r.json()["error"]) == (401, "expired_token")
    other = await _install(portal)
    assert portal.state.expire_tokens() >= 1
    r = await portal.call("user.current", token=other.access_token)
    assert r.json()["error"] == "expired_token"


# ----- limits and faults --------------------------------------------------------------------------
async def test_leaky_bucket_then_drains_with_time(portal: Portal) -> None:
    await _install(portal)
    statuses = [(await portal.call("user.current")) for _ in range(60)]
    rejected = [r for r in statuses if r.status_code == 503]
    assert len(rejected) == 10
    assert rejected[0].json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    assert portal.state.stats.rejected_rate_limit == 10
    assert portal.state.stats.by_method["user.current"] == 60
    portal.clock.advance(5)  # drains 10 at 2/s
    assert all([(await portal.call("user.current")).status_code == 200 for _ in range(10)])
    assert (await portal.call("user.current")).status_code == 503


async def test_operating_limit_and_fault_injection(portal: Portal) -> None:
    await _install(portal)
    portal.state.configure(operating_limit_s=0.0)
    first = await portal.ok("crm.deal.list")
    assert first["time"]["operating"] > 0 and first["time"]["operating_reset_at"] > portal.clock()
    r = await portal.call("crm.deal.list")
    assert (r.status_code, r.json()["error"]) == (429, "OPERATION_TIME_LIMIT")
    assert (await portal.call("crm.contact.list")).status_code == 200  # other methods unaffected
    portal.clock.advance(11 * 60)
    assert (await portal.call("crm.deal.list")).status_code == 200

    portal.state.inject_fault("crm.lead.list", 500, "INTERNAL_SERVER_ERROR", "boom", times=1)
    r = await portal.call("crm.lead.list")
    assert (r.status_code, r.json()["error"]) == (500, "INTERNAL_SERVER_ERROR")
    assert (await portal.call("crm.lead.list")).status_code == 200


# ----- batch --------------------------------------------------------------------------------------
async def test_batch_references_sections_and_halt(portal: Portal) -> None:
    await _install(portal)
    cmd = {
        "deal": "crm.deal.get?id=471",
        "contacts": "crm.contact.list?filter[ID]=$result[deal][CONTACT_ID]&select[]=ID&select[]=NAME",
        "broken": "crm.deal.get?id=999999",
        "after": "user.current",
    }
    body = await portal.ok("batch", {"halt": 0, "cmd": cmd})
    result = body["result"]
    assert set(result) == BATCH_KEYS and set(body["time"]) == TIME_KEYS
    deal = result["result"]["deal"]
    assert result["result"]["contacts"][0]["ID"] == deal["CONTACT_ID"]
    assert result["result_error"]["broken"] == {"error": "", "error_description": "Not found"}
    assert result["result_total"] == {"contacts": 1} and result["result_next"] == []
    assert set(result["result_time"]) == {"deal", "contacts", "after"}
    halted = (await portal.ok("batch", {"halt": 1, "cmd": cmd}))["result"]
    assert "after" not in halted["result"] and "broken" in halted["result_error"]
    # array cmd in a form body; a batch is one request for the bucket
    level_before = portal.state.limiter.level
    r = await portal.http.post(
        "/rest/batch", data={"auth": portal.token, "cmd[0]": "user.current", "cmd[1]": "department.get"}
    )
    assert r.status_code == 200 and isinstance(r.json()["result"]["result"], list)
    assert r.json()["result"]["result_error"] == []
    assert portal.state.limiter.level == level_before + 1
    too_long = await portal.call("batch", {"cmd": {f"c{i}": "user.current" for i in range(51)}})
    assert (too_long.status_code, too_long.json()["error"]) == (400, "ERROR_BATCH_LENGTH_EXCEEDED")
    nested = await portal.call("batch", {"cmd": {"inner": "batch?cmd[a]=user.current"}})
    assert (nested.status_code, nested.json()["error"]) == (405, "ERROR_BATCH_METHOD_NOT_ALLOWED")


# ----- CRM ----------------------------------------------------------------------------------------
async def test_list_paging_total_next_and_start_minus_one(portal: Portal) -> None:
    await _install(portal)
    adds = {f"a{i}": f"crm.contact.add?fields[NAME]=Тест{i}&fields[LAST_NAME]=Контактов" for i in range(45)}
    assert len((await portal.ok("batch", {"cmd": adds}))["result"]["result"]) == 45
    page1 = await portal.ok("crm.contact.list", {"order": {"ID": "ASC"}})
    assert (len(page1["result"]), page1["total"], page1["next"]) == (50, 65, 50)
    page2 = await portal.ok("crm.contact.list", {"order": {"ID": "ASC"}, "start": 50})
    assert len(page2["result"]) == 15 and "next" not in page2 and page2["total"] == 65
    fast = await portal.ok("crm.contact.list", {"order": {"ID": "ASC"}, "filter": {">ID": 0}, "start": -1})
    assert len(fast["result"]) == 50 and "total" not in fast and "next" not in fast
    items = await portal.ok("crm.item.list", {"entityTypeId": 3, "select": ["id", "name"], "start": 0})
    assert set(items) == ITEM_PAGE_KEYS and set(items["result"]) == {"items"}
    deals = await portal.ok("crm.item.list", {"entityTypeId": 2, "filter": {">=opportunity": 500000}})
    assert deals["result"]["items"] and all(d["opportunity"] >= 500000 for d in deals["result"]["items"])
    assert ITEM_KEYS <= set(deals["result"]["items"][0]) and isinstance(
        deals["result"]["items"][0]["id"], int
    )
    assert len(portal.state.crm_writes) == 45 and portal.state.crm_writes[0].method == "crm.contact.add"


async def test_findbycomm_normalises_phones_and_emails(portal: Portal) -> None:
    await _install(portal)
    anna = next(c for c in portal.state.crm[3].values() if c["LAST_NAME"] == "Смирнова")
    for value in ("8 (916) 123-45-67", "+79161234567", "9161234567"):
        found = await portal.ok("crm.duplicate.findbycomm", {"type": "PHONE", "values": [value]})
        assert int(anna["ID"]) in found["result"]["CONTACT"], value
    by_mail = await portal.ok(
        "crm.duplicate.findbycomm",
        {"type": "EMAIL", "values": ["ANNA.Smirnova@Mail.ru"], "entity_type": "CONTACT"},
    )
    assert by_mail["result"] == {"CONTACT": [int(anna["ID"])]}
    nothing = await portal.ok("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+7 000 000-00-00"]})
    assert nothing["result"] == []


async def test_writes_are_logged(portal: Portal) -> None:
    await _install(portal)
    r = await portal.ok(
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": 471, "ENTITY_TYPE": "deal", "COMMENT": "Итог разговора"}},
    )
    assert isinstance(r["result"], int)
    upper = await portal.call(
        "crm.timeline.comment.add", {"FIELDS": {"ENTITY_ID": 471, "ENTITY_TYPE": "deal", "COMMENT": "x"}}
    )
    assert upper.status_code == 400
    todo = await portal.ok(
        "crm.activity.todo.add",
        {"ownerTypeId": 2, "ownerId": 471, "deadline": "2026-12-20T15:00:00", "title": "Перезвонить"},
    )
    assert isinstance(todo["result"]["id"], int)
    assert (await portal.ok("crm.deal.update", {"id": 471, "fields": {"STAGE_ID": "WON"}}))["result"] is True
    assert [w.method for w in portal.state.crm_writes] == [
        "crm.timeline.comment.add",
        "crm.activity.todo.add",
        "crm.deal.update",
    ]
    assert (await portal.ok("crm.deal.get", {"id": 471}))["result"]["CLOSED"] == "Y"


# ----- webhooks -----------------------------------------------------------------------------------
async def test_webhook_url_mode_and_wrong_auth_type(portal: Portal) -> None:
    code = portal.state.create_webhook(1, ["crm", "user"])
    r = await portal.http.post(f"/rest/1/{code}/user.current.json", json={})
    assert r.status_code == 200 and r.json()["result"]["ID"] == "1"
    r = await portal.http.post(
        f"/rest/1/{code}/event.bind", json={"event": "ONCRMDEALUPDATE", "handler": "https://example.org/h"}
    )
    assert (r.status_code, r.json()["error"]) == (403, "WRONG_AUTH_TYPE")
    r = await portal.http.post(f"/rest/1/{code}/imbot.bot.list", json={})
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    r = await portal.http.post("/rest/1/wrongcode/user.current", json={})
    assert (r.status_code, r.json()["error"]) == (401, "NO_AUTH_FOUND")


# ----- Open Lines + classic bots ------------------------------------------------------------------
async def test_v1_bot_gets_form_event_and_reply_reaches_customer(
    portal: Portal, recorder: tuple[Recorder, str]
) -> None:
    rec, url = recorder
    await _install(portal)
    bot_id = (
        await portal.ok(
            "imbot.register",
            {
                "CODE": "claude_assistant",
                "TYPE": "O",
                "EVENT_HANDLER": f"{url}/bot",
                "PROPERTIES": {"NAME": "Claude", "WORK_POSITION": "Ассистент"},
            },
        )
    )["result"]
    await portal.ok(
        "imopenlines.config.update",
        {"CONFIG_ID": 1, "PARAMS": {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id}},
    )
    msg = await portal.state.customer_writes("Здравствуйте! Сколько стоит доставка?", customer="anna")
    await portal.state.wait_deliveries()
    [form] = rec.forms("ONIMBOTMESSAGEADD")
    assert [k for k, _ in form] == [k.replace("{bot}", str(bot_id)) for k in MESSAGEADD_FORM_KEYS]
    data = phpform.parse(form)
    params = data["data"]["PARAMS"]
    anna = next(c for c in portal.state.crm[3].values() if c["LAST_NAME"] == "Смирнова")
    assert (
        params["MESSAGE"] == msg.text
        and params["CHAT_TYPE"] == "L"
        and params["DIALOG_ID"] == f"chat{msg.chat_id}"
    )
    assert params["CHAT_ENTITY_TYPE"] == "LINES" and params["CHAT_ENTITY_ID"].startswith("livechat|1|")
    assert f"|CONTACT|{anna['ID']}|" in params["CHAT_ENTITY_DATA_2"]
    assert params["CHAT_ENTITY_DATA_1"].startswith("Y|DEAL|")  # Anna has an open deal
    assert data["data"]["USER"]["IS_CONNECTOR"] == "Y"
    assert data["data"]["BOT"][str(bot_id)]["application_token"] == data["auth"]["application_token"]
    assert len(rec.forms("ONIMBOTJOINCHAT")) == 1

    reply = await portal.ok(
        "imbot.message.add",
        {"BOT_ID": bot_id, "DIALOG_ID": f"chat{msg.chat_id}", "MESSAGE": "Доставка по Москве — 500 ₽."},
    )
    await portal.ok(
        "imbot.message.add",
        {
            "BOT_ID": bot_id,
            "DIALOG_ID": f"chat{msg.chat_id}",
            "MESSAGE": "служебная заметка",
            "SKIP_CONNECTOR": "Y",
        },
    )
    too_long = await portal.call(
        "imbot.message.add", {"BOT_ID": bot_id, "DIALOG_ID": f"chat{msg.chat_id}", "MESSAGE": "я" * 20001}
    )
    assert too_long.status_code == 400
    await portal.state.wait_deliveries()
    seen = [m["text"] for m in portal.state.customer_view(msg.chat_id)]
    assert seen == [msg.text, "Доставка по Москве — 500 ₽."]
    assert reply["result"] == portal.state.chat_messages(msg.chat_id)[1]["id"]
    assert len(rec.forms("ONIMBOTMESSAGEADD")) == 1  # the bot's own messages never come back to it

    dialog = await portal.ok("imopenlines.dialog.get", {"CHAT_ID": msg.chat_id})
    assert (
        set(dialog["result"]) == DIALOG_KEYS
        and dialog["result"]["entity_data_2"] == params["CHAT_ENTITY_DATA_2"]
    )
    chats = await portal.ok(
        "imopenlines.crm.chat.get", {"CRM_ENTITY_TYPE": "contact", "CRM_ENTITY": anna["ID"]}
    )
    assert chats["result"][0]["CHAT_ID"] == str(msg.chat_id)
    history = await portal.ok("im.dialog.messages.get", {"DIALOG_ID": f"chat{msg.chat_id}"})
    assert next(m["id"] for m in history["result"]["messages"]) > msg.id
    assert await portal.ok("imopenlines.bot.session.transfer", {"CHAT_ID": msg.chat_id, "QUEUE_ID": 1})
    again = await portal.call("imopenlines.bot.session.finish", {"CHAT_ID": msg.chat_id})
    assert again.json()["error"] == "WRONG_CHAT"  # a human owns the dialog now


async def test_delivery_failure_is_logged_and_not_retried(portal: Portal) -> None:
    await _install(portal)
    dead = "http://127.0.0.1:9/handler"  # discard port: connection refused
    bot_id = (
        await portal.ok(
            "imbot.register", {"CODE": "b", "TYPE": "B", "EVENT_HANDLER": dead, "PROPERTIES": {"NAME": "Бот"}}
        )
    )["result"]
    await portal.state.employee_writes("Привет", user_id=3, bot_id=bot_id)
    await portal.state.wait_deliveries()
    events = [(d.event, d.error is not None) for d in portal.state.delivery_log]
    assert events == [("ONIMBOTJOINCHAT", True), ("ONIMBOTMESSAGEADD", True)]
    portal.state.configure(drop_event_deliveries=1)
    await portal.state.employee_writes("Ещё раз", user_id=3, bot_id=bot_id)
    await portal.state.wait_deliveries()
    assert portal.state.delivery_log[-1].dropped and len(portal.state.delivery_log) == 3


# ----- Chatbots 2.0 fetch mode --------------------------------------------------------------------
async def test_v2_fetch_queue_ack_by_offset_and_message_send(portal: Portal) -> None:
    await _install(portal)
    reg = await portal.ok(
        "imbot.v2.Bot.register",
        {
            "fields": {
                "code": "claude_v2",
                "type": "openline",
                "eventMode": "fetch",
                "isSupportOpenline": True,
                "properties": {"name": "Claude"},
            }
        },
    )
    bot_id = reg["result"]["bot"]["id"]
    assert reg["result"]["bot"]["eventMode"] == "fetch"
    await portal.ok(
        "imopenlines.config.update",
        {"CONFIG_ID": 2, "PARAMS": {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": bot_id}},
    )
    msg = await portal.state.customer_writes(
        "Добрый день, хочу заказать", customer="stranger", line_id=2, channel="telegrambot"
    )
    lead_write = portal.state.crm_writes[-1]
    assert (lead_write.entity, lead_write.author) == ("LEAD", "openlines")

    first = (await portal.ok("imbot.v2.Event.get", {"botId": bot_id}))["result"]
    assert set(first) == {"events", "nextOffset", "hasMore"}
    types = [e["type"] for e in first["events"]]
    assert types == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    event = first["events"][1]
    assert set(event) == {"eventId", "type", "date", "data"}
    data = event["data"]
    assert data["message"]["text"] == msg.text and data["message"]["chatId"] == msg.chat_id
    assert data["chat"]["entityType"] == "LINES" and data["chat"]["entityId"].startswith("telegrambot|2|")
    assert f"LEAD|{lead_write.id}|" in data["chat"]["entityData2"] and data["user"]["connector"] is True
    assert {"bot", "message", "chat", "user", "language"} <= set(data)

    repeat = (await portal.ok("imbot.v2.Event.get", {"botId": bot_id}))["result"]
    assert [e["eventId"] for e in repeat["events"]] == [e["eventId"] for e in first["events"]]
    acked = (await portal.ok("imbot.v2.Event.get", {"botId": bot_id, "offset": first["nextOffset"]}))[
        "result"
    ]
    assert acked["events"] == [] and acked["hasMore"] is False

    sent = await portal.ok(
        "imbot.v2.Chat.Message.send",
        {
            "botId": bot_id,
            "dialogId": f"chat{msg.chat_id}",
            "fields": {"message": "Здравствуйте! Что именно?"},
        },
    )
    assert portal.state.chat_messages(msg.chat_id)[-1]["id"] == sent["result"]["id"]
    assert portal.state.customer_view(msg.chat_id)[-1]["text"] == "Здравствуйте! Что именно?"
    assert (await portal.ok("imbot.v2.Event.get", {"botId": bot_id}))["result"]["events"] == []

    other = await portal.state.install_app(client_id="local.other.1", client_secret="x")
    stolen = await portal.call("imbot.v2.Event.get", {"botId": bot_id}, token=other.access_token)
    assert stolen.json()["error"] == "BOT_OWNERSHIP_ERROR"


# ----- control API --------------------------------------------------------------------------------
async def test_control_api(portal: Portal) -> None:
    r = await portal.http.post("/_sandbox/customer-message", json={"text": "Алло?", "customer": "ivan"})
    assert r.status_code == 200, r.text
    chat_id = r.json()["chat_id"]
    msgs = await portal.http.get(f"/_sandbox/chats/{chat_id}/messages")
    assert [m["text"] for m in msgs.json()["messages"]] == ["Алло?"]
    assert (
        await portal.http.post("/_sandbox/config", json={"latency_s": 0.0, "burst": 100})
    ).status_code == 200
    assert portal.state.config.burst == 100
    hook = (await portal.http.post("/_sandbox/webhooks", json={"user_id": 1, "scopes": ["user"]})).json()
    assert (await portal.http.get(f"{hook['url']}profile")).json()["result"]["ID"] == "1"
    stats = (await portal.http.get("/_sandbox/stats")).json()
    assert stats["by_method"]["profile"] == 1
    assert (
        await portal.http.post(
            "/_sandbox/faults", json={"method": "profile", "status": 503, "error": "QUERY_LIMIT_EXCEEDED"}
        )
    ).status_code == 200
    assert (await portal.http.get(f"{hook['url']}profile")).status_code == 503
    for path, payload in [
        ("/_sandbox/customer-message", {"customer": "x"}),
        ("/_sandbox/config", {"nope": 1}),
        ("/_sandbox/install", {"client_id": "a"}),
        ("/_sandbox/webhooks", {"scopes": "crm"}),
    ]:
        bad = await portal.http.post(path, json=payload)
        assert bad.status_code == 400 and bad.json()["reason"], path
    assert (await portal.http.get("/_sandbox/chats/1/messages")).status_code == 400
    assert (await portal.http.post("/_sandbox/expire-tokens")).json()["expired"] == 0
    assert isinstance((await portal.http.get("/_sandbox/crm-writes")).json(), list)
    assert json.loads((await portal.http.post("/_sandbox/config", content=b"[1]")).text)["reason"]
