"""The emulator's Disk and Sites (knowledge base) methods held to bitrix24/b24restdocs.

api-reference/disk/{storage,folder,file}/*.md and api-reference/landing/{types.md,site,page,block}:
field names, paging (``start``/``next``/``total`` for Disk; ``limit``/``offset`` for landing lists),
the ``scope: KNOWLEDGE`` switch, error codes, and the download link on the portal's own host.
Raw httpx over loopback, as the other contract tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from b24claude.sandbox.portal import ManualClock, PortalConfig, PortalState, create_portal_app
from b24claude.sandbox.portal.landing import add_block, add_page, add_site
from b24claude.sandbox.server import ServerHandle

pytestmark = pytest.mark.contract

CLIENT_ID = "local.6720f1a2b3c4d5.12345678"
SECRET = "s3cr3t-of-the-local-app"
# disk.file.get "Response Handling" example, in its order.
FILE_KEYS = [
    "ID",
    "NAME",
    "CODE",
    "STORAGE_ID",
    "TYPE",
    "PARENT_ID",
    "DELETED_TYPE",
    "GLOBAL_CONTENT_VERSION",
    "FILE_ID",
    "SIZE",
    "CREATE_TIME",
    "UPDATE_TIME",
    "DELETE_TIME",
    "CREATED_BY",
    "UPDATED_BY",
    "DELETED_BY",
    "DOWNLOAD_URL",
    "DETAIL_URL",
]
# disk.folder.getchildren example: a folder has no version, size, file id or download link.
FOLDER_KEYS = [k for k in FILE_KEYS if k not in ("GLOBAL_CONTENT_VERSION", "FILE_ID", "SIZE", "DOWNLOAD_URL")]
STORAGE_KEYS = {"ID", "NAME", "CODE", "MODULE_ID", "ENTITY_TYPE", "ENTITY_ID", "ROOT_OBJECT_ID"}
BLOCK_KEYS = {"id", "lid", "code", "name", "active", "meta"}


@dataclass
class Portal:
    state: PortalState
    clock: ManualClock
    http: httpx.AsyncClient
    base: str
    token: str = ""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(f"/rest/{method}", json={**(params or {}), "auth": self.token})

    async def ok(self, method: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.call(method, params)
        assert response.status_code == 200, response.text
        return response.json()

    async def error(self, method: str, params: dict[str, Any], status: int) -> str:
        response = await self.call(method, params)
        assert response.status_code == status, response.text
        return str(response.json()["error"])


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    clock = ManualClock(1_766_050_000.0)
    state = PortalState(PortalConfig(clock=clock))
    async with ServerHandle(create_portal_app(state)) as server:
        state.config.public_base_url = server.base_url
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
            p = Portal(state, clock, http, server.base_url)
            result = await state.install_app(client_id=CLIENT_ID, client_secret=SECRET)
            p.token = result.access_token
            yield p
        await state.aclose()


async def _root(portal: Portal) -> int:
    [storage] = (await portal.ok("disk.storage.getlist"))["result"]
    assert set(storage) == STORAGE_KEYS and storage["ENTITY_TYPE"] == "common"
    return int(storage["ROOT_OBJECT_ID"])


async def test_disk_lists_page_by_fifty_with_documented_fields(portal: Portal) -> None:
    root = await _root(portal)
    disk, now = portal.state.disk, portal.clock.now
    folder = disk.add_folder(now, root, "База знаний")
    sub = disk.add_folder(now, folder, "Оплата")
    for i in range(120):
        disk.put_file(now, folder, f"doc{i:03}.md", f"# Документ {i}\n\nТекст.\n".encode())
    first = await portal.ok("disk.folder.getchildren", {"id": folder})
    assert first["total"] == 121 and first["next"] == 50 and len(first["result"]) == 50
    assert list(first["result"][0]) == FOLDER_KEYS and first["result"][0]["ID"] == str(sub)
    file = first["result"][1]
    assert list(file) == FILE_KEYS and file["TYPE"] == "file" and file["PARENT_ID"] == str(folder)
    assert file["GLOBAL_CONTENT_VERSION"] == "1" and file["SIZE"] == str(
        len("# Документ 0\n\nТекст.\n".encode())
    )
    assert file["UPDATE_TIME"].endswith("+03:00")
    third = await portal.ok("disk.folder.getchildren", {"id": folder, "start": 100})
    assert len(third["result"]) == 21 and "next" not in third and third["total"] == 121
    storage_children = await portal.ok("disk.storage.getchildren", {"id": 1})
    assert [c["NAME"] for c in storage_children["result"]] == ["База знаний"]
    # a new upload of the same name is a new version of the same file
    disk.put_file(now, folder, "doc000.md", b"# New\n\nChanged.\n")
    again = await portal.ok("disk.file.get", {"id": file["ID"]})
    assert again["result"]["GLOBAL_CONTENT_VERSION"] == "2" and again["result"]["SIZE"] == str(
        len(b"# New\n\nChanged.\n")
    )


async def test_the_download_link_is_on_the_portal_host_and_serves_the_bytes(portal: Portal) -> None:
    root = await _root(portal)
    file_id = portal.state.disk.put_file(
        portal.clock.now, root, "Доставка.md", "# Доставка\n\nЗа 2 дня.\n".encode()
    )
    url = (await portal.ok("disk.file.get", {"id": file_id}))["result"]["DOWNLOAD_URL"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == portal.base and parts.path == "/rest/download.json"
    query = parse_qs(parts.query)
    assert query["auth"] == [portal.token] and query["token"][0].startswith("disk|")
    got = await portal.http.get(url)
    assert got.status_code == 200 and got.content == "# Доставка\n\nЗа 2 дня.\n".encode()
    assert "filename*=utf-8''" in got.headers["content-disposition"]
    # the link's own token expires with the access token it carries
    portal.clock.advance(3601)
    expired = await portal.http.get(url)
    assert expired.status_code == 401 and expired.json()["error"] == "expired_token"
    forged = await portal.http.get("/rest/download.json", params={"auth": portal.token, "token": "disk|nope"})
    assert forged.status_code == 404 and forged.json()["error"] == "ERROR_NOT_FOUND"


async def test_disk_errors_not_found_trash_access_denied_and_scope(portal: Portal) -> None:
    root = await _root(portal)
    disk, now = portal.state.disk, portal.clock.now
    folder = disk.add_folder(now, root, "Закрытая")
    gone = disk.put_file(now, root, "old.md", b"# Old\n")
    assert await portal.error("disk.folder.getchildren", {}, 400) == "ERROR_ARGUMENT"
    assert await portal.error("disk.folder.get", {"id": 999_999}, 400) == "ERROR_NOT_FOUND"
    assert (
        await portal.error("disk.folder.get", {"id": gone}, 400) == "ERROR_NOT_FOUND"
    )  # a file, not a folder
    disk.trash(gone)
    assert await portal.error("disk.file.get", {"id": gone}, 400) == "ERROR_NOT_FOUND"
    listed = await portal.ok("disk.folder.getchildren", {"id": root})
    assert [c["NAME"] for c in listed["result"]] == ["Закрытая"]
    disk.denied.add(folder)
    assert await portal.error("disk.folder.getchildren", {"id": folder}, 403) == "ACCESS_DENIED"
    narrow = await portal.state.install_app(client_id="local.other.1", client_secret="x", scopes=["crm"])
    response = await portal.http.post("/rest/disk.folder.get", json={"id": root, "auth": narrow.access_token})
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


async def test_knowledge_bases_are_seen_only_with_scope_knowledge(portal: Portal) -> None:
    state = portal.state
    kb = add_site(state, "База знаний КофеТех")
    shop = add_site(state, "Магазин", type_="STORE")
    pages = [add_page(state, kb, f"Статья {i}") for i in range(60)]
    hidden = add_page(state, kb, "Черновик", active=False)
    add_block(state, pages[0], "<h2>Сроки</h2><p>Доставка за 2 дня.</p>")
    add_block(state, pages[0], "<nav>меню</nav>", code="0.menu_02")
    add_block(state, hidden, "<p>Ещё не опубликовано.</p>")

    plain = await portal.ok("landing.site.getList", {"params": {"select": ["ID", "TITLE", "TYPE"]}})
    assert [s["ID"] for s in plain["result"]] == [str(shop)]
    scoped = await portal.ok(
        "landing.site.getList",
        {
            "scope": "KNOWLEDGE",
            "params": {"select": ["ID", "TITLE", "TYPE"], "filter": {"TYPE": "KNOWLEDGE"}},
        },
    )
    assert scoped["result"] == [{"ID": str(kb), "TITLE": "База знаний КофеТех", "TYPE": "KNOWLEDGE"}]
    assert "next" not in scoped and "total" not in scoped

    query = {"select": ["ID", "TITLE"], "filter": {"SITE_ID": kb}, "order": {"ID": "ASC"}, "limit": 50}
    assert (await portal.ok("landing.landing.getList", {"params": query}))["result"] == []  # no scope
    first = await portal.ok("landing.landing.getList", {"scope": "KNOWLEDGE", "params": query})
    assert len(first["result"]) == 50 and set(first["result"][0]) == {"ID", "TITLE", "DOMAIN_ID"}
    rest = await portal.ok(
        "landing.landing.getList", {"scope": "KNOWLEDGE", "params": {**query, "offset": 50}}
    )
    assert [int(p["ID"]) for p in rest["result"]] == [*pages[50:], hidden]
    active = await portal.ok(
        "landing.landing.getList",
        {"scope": "KNOWLEDGE", "params": {**query, "filter": {"SITE_ID": kb, "ACTIVE": "Y"}}},
    )
    assert hidden not in [int(p["ID"]) for p in active["result"]]

    blocks = await portal.ok(
        "landing.block.getlist", {"scope": "KNOWLEDGE", "lid": pages[0], "params": {"get_content": True}}
    )
    assert [set(b) for b in blocks["result"]] == [BLOCK_KEYS | {"content", "css", "js"}] * 2
    assert (
        blocks["result"][0]["content"].startswith('<div id="b')
        and "Доставка за 2 дня." in blocks["result"][0]["content"]
    )
    bare = await portal.ok("landing.block.getlist", {"scope": "KNOWLEDGE", "lid": pages[0]})
    assert "content" not in bare["result"][0]
    unpublished = await portal.ok("landing.block.getlist", {"scope": "KNOWLEDGE", "lid": hidden})
    assert unpublished["result"] == []
    draft = await portal.ok(
        "landing.block.getlist",
        {"scope": "KNOWLEDGE", "lid": hidden, "params": {"edit_mode": True, "get_content": True}},
    )
    assert "Ещё не опубликовано." in draft["result"][0]["content"]
    assert await portal.error("landing.block.getlist", {"lid": pages[0]}, 400) == "LANDING_NOT_EXIST"
    assert (
        await portal.error("landing.block.getlist", {"scope": "KNOWLEDGE", "lid": 999_999}, 400)
        == "LANDING_NOT_EXIST"
    )
    assert await portal.error("landing.block.getlist", {"scope": "KNOWLEDGE"}, 400) == "MISSING_PARAMS"
