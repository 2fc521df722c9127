"""A portal's own documents as the knowledge base: a Disk folder and a knowledge base (Sites).

The whole path: the emulated portal holds the documents, ``b24claude kb sync --bitrix-disk`` (a real
process, as an admin runs it) lists and downloads them through the REST client, ``kb search`` finds
them; a changed file is replaced, a deleted one removed, a link to another host refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from b24claude.bootstrap import portal_source
from b24claude.cli.stack import SandboxStack
from b24claude.errors import Bitrix24Error
from b24claude.sandbox.portal.landing import add_block, add_page, add_site, set_block


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def run_cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 90) -> Ran:
    """``b24claude …`` in its own process, awaited: the emulated portal (in this event loop) keeps
    answering while the command calls it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("B24C_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "b24claude.cli.main",
        *args,
        cwd=cwd,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v2")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def _search(stack: SandboxStack, tmp_path: Path, query: str) -> list[dict[str, object]]:
    out = await run_cli(
        "kb",
        "search",
        query,
        "--top",
        "3",
        "--json",
        "--portal",
        stack.member_id,
        cwd=tmp_path,
        env=stack.app_env(),
    )
    assert out.returncode == 0, out.stderr
    hits: list[dict[str, object]] = json.loads(out.stdout)
    return hits


async def test_kb_sync_bitrix_disk_mirrors_a_folder_of_the_portal(
    stack: SandboxStack, tmp_path: Path
) -> None:
    disk, now = stack.portal.disk, stack.portal.now
    root = disk.storages[1].root_id  # the common storage
    folder = disk.add_folder(now(), root, "База знаний")
    sub = disk.add_folder(now(), folder, "Аренда")
    disk.put_file(
        now(),
        folder,
        "dostavka.md",
        "# Доставка самокатов\n\nДоставка самоката по городу стоит 390 рублей.\n".encode(),
    )
    scooter = disk.put_file(
        now(), sub, "prokat.txt", "Прокат самоката стоит 150 рублей в час, залог 5000 рублей.\n".encode()
    )
    env = stack.app_env()
    sync = ["kb", "sync", "--bitrix-disk", str(folder), "--portal", stack.member_id]

    first = await run_cli(*sync, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "added 2, replaced 0, unchanged 0, removed 0, failed 0" in first.stderr
    top = (await _search(stack, tmp_path, "сколько стоит доставка самоката"))[0]
    assert top["source"] == "dostavka.md#Доставка самокатов" and "390" in str(top["text"])
    assert top["document"] == f"b24disk://{folder}/dostavka.md"
    hits = await _search(stack, tmp_path, "залог за прокат самоката")
    assert hits[0]["document"] == f"b24disk://{folder}/Аренда/prokat.txt" and "5000" in str(hits[0]["text"])
    downloads = disk.downloads

    again = await run_cli(*sync, cwd=tmp_path, env=env)  # nothing changed: nothing downloaded
    assert again.returncode == 0 and "added 0, replaced 0, unchanged 2, removed 0" in again.stderr
    assert disk.downloads == downloads

    disk.put_file(
        now() + 60,
        folder,
        "dostavka.md",
        "# Доставка самокатов\n\nДоставка самоката теперь стоит 490 рублей.\n".encode(),
    )
    disk.trash(scooter)
    third = await run_cli(*sync, cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    assert "added 0, replaced 1, unchanged 0, removed 1, failed 0" in third.stderr
    top = (await _search(stack, tmp_path, "сколько стоит доставка самоката"))[0]
    assert "490" in str(top["text"]) and "390" not in str(top["text"])
    assert all(
        "prokat" not in str(h["document"]) for h in await _search(stack, tmp_path, "залог за прокат самоката")
    )
    # the local folder sync of the same portal leaves the Disk documents alone
    local = tmp_path / "local"
    local.mkdir()
    (local / "faq.md").write_text("# Часы работы\n\nМы работаем с 9 до 21.\n", encoding="utf-8")
    mixed = await run_cli("kb", "sync", str(local), "--portal", stack.member_id, cwd=tmp_path, env=env)
    assert mixed.returncode == 0 and "removed 0" in mixed.stderr
    listed = await run_cli("kb", "list", "--json", "--portal", stack.member_id, cwd=tmp_path, env=env)
    assert {d["key"] for d in json.loads(listed.stdout)} >= {"faq.md", f"b24disk://{folder}/dostavka.md"}


async def test_a_download_link_to_another_host_is_refused_and_bad_files_reported(stack: SandboxStack) -> None:
    assert stack.container is not None
    kb, client = stack.container.kb, stack.container.bitrix
    disk, now = stack.portal.disk, stack.portal.now
    folder = disk.add_folder(now(), disk.storages[1].root_id, "Документы")
    disk.put_file(now(), folder, "garantiya.md", "# Гарантия\n\nГарантия на самокаты 12 месяцев.\n".encode())
    disk.put_file(now(), folder, "empty.md", b"")
    disk.put_file(now(), folder, "setup.exe", b"MZ\x90\x00")
    source = portal_source(client, stack.member_id, disk_folder=folder)

    disk.download_base = "https://files.elsewhere.example.com"
    refused = {o.path.rsplit("/", 1)[-1]: o for o in await kb.sync_source(stack.member_id, source)}
    assert (
        refused["garantiya.md"].status == "failed" and "не на домен портала" in refused["garantiya.md"].error
    )
    assert refused["empty.md"].status == "failed" and "пуст" in refused["empty.md"].error
    assert refused["setup.exe"].status == "failed" and "unknown format" in refused["setup.exe"].error
    assert disk.downloads == 0 and await kb.documents(stack.member_id) == []  # nothing fetched or written

    disk.download_base = None
    outcomes = {o.path.rsplit("/", 1)[-1]: o.status for o in await kb.sync_source(stack.member_id, source)}
    assert outcomes == {"garantiya.md": "added", "empty.md": "failed", "setup.exe": "failed"}
    [doc] = await kb.documents(stack.member_id)
    assert doc.key == f"b24disk://{folder}/garantiya.md"

    # an unreadable folder or a wrong id fails the listing before anything is removed
    disk.denied.add(folder)
    with pytest.raises(Bitrix24Error) as denied:
        await kb.sync_source(stack.member_id, source)
    assert denied.value.code == "ACCESS_DENIED"
    with pytest.raises(Bitrix24Error):
        await kb.sync_source(stack.member_id, portal_source(client, stack.member_id, disk_folder=987_654))
    assert [d.key for d in await kb.documents(stack.member_id)] == [doc.key]


async def test_a_knowledge_base_of_the_portal_is_synced_page_by_page(stack: SandboxStack) -> None:
    assert stack.container is not None
    kb, client, state = stack.container.kb, stack.container.bitrix, stack.portal
    site = add_site(state, "База знаний КофеТех")
    delivery = add_page(state, site, "Доставка и оплата")
    add_block(state, delivery, "<nav>Главная · Статьи</nav>", code="0.menu_02")
    block = add_block(state, delivery, "<h2>Сроки доставки</h2><p>Кофемашины доставляем за 3 дня.</p>")
    care = add_page(state, site, "Уход за кофемашиной")
    add_block(state, care, "<h2>Очистка от накипи</h2><p>Очищайте кофемашину от накипи раз в месяц.</p>")
    add_page(state, site, "Черновик", active=False)
    source = portal_source(client, stack.member_id, kb_site=site)

    first = await kb.sync_source(stack.member_id, source)
    assert sorted(o.status for o in first) == ["added", "added"], [o.error for o in first]
    hits = await stack.container.kb_search.hits(
        stack.member_id, "за сколько дней доставят кофемашину", limit=3
    )
    assert hits[0].chunk.source == "Доставка и оплата.html#Сроки доставки"
    assert "Главная" not in hits[0].chunk.text  # the menu block is navigation, not content

    unchanged = await kb.sync_source(stack.member_id, source)
    assert sorted(o.status for o in unchanged) == ["unchanged", "unchanged"]
    set_block(state, block, "<h2>Сроки доставки</h2><p>Кофемашины доставляем за 1 день.</p>")
    state.landing.pages[care]["ACTIVE"] = "N"  # unpublished: no longer part of the base
    changed = {o.path: o.status for o in await kb.sync_source(stack.member_id, source)}
    assert changed == {
        f"b24kb://{site}/{delivery}/Доставка и оплата.html": "replaced",
        f"b24kb://{site}/{care}/Уход за кофемашиной.html": "removed",
    }
    hits = await stack.container.kb_search.hits(
        stack.member_id, "за сколько дней доставят кофемашину", limit=1
    )
    assert "1 день" in hits[0].chunk.text
    with pytest.raises(Bitrix24Error):
        await kb.sync_source(stack.member_id, portal_source(client, stack.member_id, kb_site=site + 1000))
