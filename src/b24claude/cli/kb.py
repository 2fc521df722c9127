"""``b24claude kb …`` — a portal's knowledge base: add, sync, list, show, remove, search.

Thin: each command resolves the portal, calls one service method and prints the result (Rich tables
and a progress bar for people, JSON for scripts). Heavy imports happen inside the commands.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from b24claude.bootstrap import KnowledgeParts
    from b24claude.knowledge.search import Hit
    from b24claude.ports.knowledge import IngestOutcome

_T = TypeVar("_T")

kb_app = typer.Typer(
    no_args_is_help=True,
    help="The portal's knowledge base: documents and search / База знаний портала: документы и поиск.",
)
_PORTAL_HELP = "Portal member_id (default: the only one) / member_id портала (по умолчанию единственный)"
PortalOpt = Annotated[str | None, typer.Option("--portal", help=_PORTAL_HELP)]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@asynccontextmanager
async def _knowledge() -> AsyncIterator[tuple[KnowledgeParts, Any]]:
    from b24claude.adapters.logs import quiet_libraries
    from b24claude.bootstrap import build_keyring, knowledge_parts, open_store
    from b24claude.kit.clock import SystemClock
    from b24claude.settings import Settings

    quiet_libraries()
    settings = Settings()
    store = await open_store(settings, build_keyring(settings))
    try:
        parts = knowledge_parts(settings, store, SystemClock())
        try:
            yield parts, store
        finally:
            await parts.aclose()
    finally:
        await store.close()


async def _portal(store: Any, given: str | None) -> str:
    if given:
        return given
    installed = [p.member_id for p in await store.portals.list_installed()]
    if len(installed) == 1:
        return str(installed[0])
    with_docs = [m for m in await store.knowledge.portals() if m != "_shared"]
    if not installed and len(with_docs) == 1:
        return str(with_docs[0])
    known = ", ".join(installed or with_docs) or "none / нет"
    _fail(
        f"name the portal with --portal (known: {known}) / укажите портал через --portal (известны: {known})"
    )
    raise AssertionError  # unreachable: _fail exits


def _run(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    from b24claude.errors import B24ClaudeError

    try:
        return asyncio.run(factory())
    except B24ClaudeError as exc:
        _fail(f"error / ошибка: {exc.message}")
        raise AssertionError from exc


def _summary(outcomes: list[IngestOutcome]) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        table = Table("file / файл", "reason / причина", title="Not ingested / Не загружено")
        for o in failed:
            table.add_row(o.path, o.error)
        console.print(table)
    flagged = [o for o in outcomes if o.flagged]
    if flagged:
        table = Table(
            "file / файл",
            "removed as instructions to the bot / убрано как указания боту",
            title="Suspicious text (prompt injection?) / Подозрительный текст (prompt injection?)",
        )
        for o in flagged:
            table.add_row(o.path, "\n".join(o.flagged))
        console.print(table)
    counts = {
        s: sum(1 for o in outcomes if o.status == s) for s in ("added", "replaced", "unchanged", "removed")
    }
    passages = sum(o.chunks for o in outcomes if o.status in ("added", "replaced"))
    console.print(
        f"added {counts['added']}, replaced {counts['replaced']}, unchanged {counts['unchanged']}, "
        f"removed {counts['removed']}, failed {len(failed)}; {passages} passages written / "
        f"добавлено {counts['added']}, заменено {counts['replaced']}, без изменений {counts['unchanged']}, "
        f"удалено {counts['removed']}, ошибок {len(failed)}; записано фрагментов: {passages}"
    )
    return 1 if failed else 0


async def _ingest(paths: list[Path], portal: str | None, *, sync: bool) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from b24claude.knowledge.service import collect

    async with _knowledge() as (kb, store):
        member_id = await _portal(store, portal)
        total = len(collect(paths))
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
            console=None,
        ) as progress:
            task = progress.add_task(f"{member_id}: ingesting / загрузка", total=total)

            def advance(outcome: IngestOutcome) -> None:
                if outcome.status != "removed":
                    progress.advance(task)

            if sync:
                outcomes = await kb.service.sync(member_id, paths[0], progress=advance)
            else:
                outcomes = await kb.service.add(member_id, paths, progress=advance)
        return _summary(outcomes)


@kb_app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders / Файлы или папки")],
    portal: PortalOpt = None,
) -> None:
    """Add or replace documents: .md .txt .html .pdf .docx, FAQ tables .csv .xlsx.

    Добавить или заменить документы: .md .txt .html .pdf .docx, таблицы FAQ .csv .xlsx.
    """
    raise typer.Exit(_run(lambda: _ingest(paths, portal, sync=False)))


async def _sync_portal_source(portal: str | None, *, disk_folder: int | None, kb_site: int | None) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from b24claude.bootstrap import bitrix_client, build_keyring, portal_source, resolve_secret
    from b24claude.kit.clock import SystemClock
    from b24claude.settings import Settings

    async with _knowledge() as (kb, store):
        member_id = await _portal(store, portal)
        settings = Settings()
        secret = resolve_secret(
            build_keyring(settings), settings.b24_client_secret, name="B24C_B24_CLIENT_SECRET"
        )
        client = bitrix_client(settings, store, SystemClock(), client_secret=secret)
        try:
            source = portal_source(client, member_id, disk_folder=disk_folder, kb_site=kb_site)
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
            ) as progress:
                task = progress.add_task(f"{member_id}: {source.prefix} / загрузка", total=None)

                def advance(outcome: IngestOutcome) -> None:
                    progress.update(task, description=f"{member_id}: {outcome.path}")

                outcomes = await kb.service.sync_source(member_id, source, progress=advance)
        finally:
            await client.aclose()
        return _summary(outcomes)


@kb_app.command("sync")
def sync(
    folder: Annotated[
        Path | None, typer.Argument(help="The folder the base mirrors / Папка-источник базы")
    ] = None,
    bitrix_disk: Annotated[
        int | None,
        typer.Option(
            "--bitrix-disk",
            help="Mirror a Disk folder of the portal by its id (scope disk) / Папка Диска портала по id",
        ),
    ] = None,
    bitrix_kb: Annotated[
        int | None,
        typer.Option(
            "--bitrix-kb",
            help="Mirror a knowledge base of the portal by its site id (scope landing) / "
            "База знаний портала (id сайта)",
        ),
    ] = None,
    portal: PortalOpt = None,
) -> None:
    """Make the base what the folder holds: add new, replace changed, remove deleted documents.

    Привести базу к содержимому папки: новые добавить, изменённые заменить, удалённые убрать.
    The folder may be the portal's own: a Disk folder (--bitrix-disk) or a knowledge base (--bitrix-kb).
    Папкой может быть папка Диска портала (--bitrix-disk) или база знаний (--bitrix-kb).
    """
    given = [x for x in (folder, bitrix_disk, bitrix_kb) if x is not None]
    if len(given) != 1:
        _fail(
            "give one of FOLDER, --bitrix-disk ID, --bitrix-kb SITE_ID / "
            "укажите одно из: FOLDER, --bitrix-disk ID, --bitrix-kb SITE_ID"
        )
    if folder is None:
        raise typer.Exit(
            _run(lambda: _sync_portal_source(portal, disk_folder=bitrix_disk, kb_site=bitrix_kb))
        )
    raise typer.Exit(_run(lambda: _ingest([folder], portal, sync=True)))


@kb_app.command("list")
def list_documents(
    portal: PortalOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output / Вывод в JSON")] = False,
) -> None:
    """The portal's documents / Документы портала."""
    from rich.console import Console
    from rich.table import Table

    async def go() -> list[Any]:
        async with _knowledge() as (kb, store):
            return list(await kb.service.documents(await _portal(store, portal)))

    docs = _run(go)
    if as_json:
        rows = [{"key": d.key, "format": d.format, "passages": d.chunks, "size": d.size} for d in docs]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("document / документ", "format / формат", "passages / фрагменты", "bytes / байт")
    for d in docs:
        table.add_row(d.key, d.format, str(d.chunks), str(d.size))
    Console().print(table)


@kb_app.command("remove")
def remove(
    documents: Annotated[
        list[str], typer.Argument(help="Document names as `kb list` shows them / Имена документов")
    ],
    portal: PortalOpt = None,
) -> None:
    """Remove documents from the base / Удалить документы из базы."""

    async def go() -> int:
        async with _knowledge() as (kb, store):
            member_id = await _portal(store, portal)
            missing = 0
            for name in documents:
                doc = await kb.service.find_document(member_id, name)
                if doc is None or not await kb.service.remove(member_id, doc.key):
                    typer.echo(f"not found / не найден: {name}", err=True)
                    missing += 1
                else:
                    typer.echo(f"removed / удалён: {doc.key}")
            return 1 if missing else 0

    raise typer.Exit(_run(go))


@kb_app.command("show")
def show(
    source: Annotated[
        str, typer.Argument(help="A document, or a citation `file#Heading` / Документ или ссылка")
    ],
    portal: PortalOpt = None,
) -> None:
    """The passages of a document (or of one citation) / Фрагменты документа (или одной ссылки)."""
    from rich.console import Console

    async def go() -> list[Any]:
        async with _knowledge() as (kb, store):
            member_id = await _portal(store, portal)
            name, _, heading = source.partition("#")
            doc = await kb.service.find_document(member_id, name)
            if doc is None:
                _fail(f"not found / не найден: {name}", 1)
            assert doc is not None
            chunks = await kb.service.passages_of(member_id, doc.key)
            return [c for c in chunks if not heading or c.source == source]

    chunks = _run(go)
    console = Console()
    for c in chunks:
        console.print(f"[bold]{c.source}[/bold]  [dim]{' › '.join(c.headings)}[/dim]")
        console.print(c.text, markup=False, highlight=False)
        console.print()


def _hit_json(hit: Hit) -> dict[str, Any]:
    c = hit.chunk
    return {
        "source": c.source,
        "score": round(hit.score, 6),
        "text": c.text,
        "id": f"k{c.id}",
        "document": c.document_key,
        "headings": list(c.headings),
        "coverage": round(hit.coverage, 3),
    }


@kb_app.command("search")
def search(
    query: Annotated[str | None, typer.Argument(help="The question / Вопрос")] = None,
    top: Annotated[int, typer.Option("--top", help="Hits per query / Результатов на запрос")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output / Вывод в JSON")] = False,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries", help='JSONL of {"id","query"}: one {"id","hits"} line each / JSONL с запросами'
        ),
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid | bm25 | vector")] = "hybrid",
    portal: PortalOpt = None,
) -> None:
    """Search the base as the bot does / Искать в базе так же, как бот."""
    from rich.console import Console
    from rich.table import Table

    if mode not in ("hybrid", "bm25", "vector"):
        _fail("--mode: hybrid | bm25 | vector")
    if (query is None) == (queries is None):
        _fail("give a QUERY or --queries FILE / укажите QUERY или --queries FILE")

    async def go() -> list[Any]:
        async with _knowledge() as (kb, store):
            member_id = await _portal(store, portal)
            if queries is None:
                assert query is not None
                return list(await kb.search.hits(member_id, query, limit=top, mode=mode))  # type: ignore[arg-type]
            out = sys.stdout
            for line in queries.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                hits = await kb.search.hits(member_id, str(item["query"]), limit=top, mode=mode)  # type: ignore[arg-type]
                out.write(
                    json.dumps(
                        {"id": item.get("id"), "hits": [_hit_json(h) for h in hits]}, ensure_ascii=False
                    )
                )
                out.write("\n")
            out.flush()
            return []

    hits = _run(go)
    if queries is not None:
        return
    if as_json:
        typer.echo(json.dumps([_hit_json(h) for h in hits], ensure_ascii=False))
        return
    table = Table("#", "source / источник", "score", "text / текст", show_lines=True)
    for i, h in enumerate(hits, 1):
        text = h.chunk.text if len(h.chunk.text) < 240 else h.chunk.text[:237] + "…"
        table.add_row(str(i), h.chunk.source, f"{h.score:.4f}", text)
    Console().print(table)


# --- the knowledge loop: FAQ suggestions from unanswered questions ----------------------------------

suggestions_app = typer.Typer(
    help="FAQ suggestions from questions the bot could not answer and the operators' replies / "
    "Подсказки для FAQ из вопросов без ответа и ответов операторов."
)
kb_app.add_typer(suggestions_app, name="suggestions")


async def _collected(portal: str | None) -> tuple[str, list[Any]]:
    """Read the operators' replies from the portal, cluster, and return the pending suggestions."""
    from b24claude.adapters.bitrix24 import Bitrix24Gateway
    from b24claude.bootstrap import bitrix_client, build_keyring, resolve_secret
    from b24claude.kit.clock import SystemClock
    from b24claude.settings import Settings

    settings = Settings()
    async with _knowledge() as (kb, store):
        member_id = await _portal(store, portal)
        secret = resolve_secret(
            build_keyring(settings), settings.b24_client_secret, name="B24C_B24_CLIENT_SECRET"
        )
        client = bitrix_client(settings, store, SystemClock(), client_secret=secret)
        try:
            installed = await store.portals.get(member_id)
            bot_code = installed.bot_code if installed is not None else ""
            await kb.suggestions.collect(member_id, Bitrix24Gateway(client), bot_code=bot_code)
        finally:
            await client.aclose()
        await kb.suggestions.refresh(member_id)
        return member_id, list(await kb.suggestions.suggestions(member_id))


def _suggestion_json(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "question": s.question,
        "answer": s.answer,
        "questions": s.questions,
        "status": s.status,
        "source": s.source,
    }


@suggestions_app.callback(invoke_without_command=True)
def suggestions(
    ctx: typer.Context,
    portal: PortalOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output / Вывод в JSON")] = False,
) -> None:
    """List pending suggestions (after reading the operators' replies from the portal) / Список подсказок
    (после чтения ответов операторов с портала)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    _, pending = _run(lambda: _collected(portal))
    if as_json:
        typer.echo(json.dumps([_suggestion_json(s) for s in pending], ensure_ascii=False))
        return
    table = Table("id", "question / вопрос", "answer / ответ", "asked / раз")
    for s in pending:
        table.add_row(str(s.id), s.question, s.answer, str(s.questions))
    Console().print(table)
    if not pending:
        typer.echo("no suggestions / подсказок нет")


@suggestions_app.command("approve")
def approve_suggestion(
    suggestion_id: Annotated[int, typer.Argument(help="Suggestion id / Номер подсказки")],
    answer: Annotated[
        str | None, typer.Option("--answer", help="The answer to store instead / Свой текст ответа")
    ] = None,
    portal: PortalOpt = None,
) -> None:
    """Approve into the base as an FAQ entry / Одобрить: добавить в базу как запись FAQ."""

    async def go() -> Any:
        async with _knowledge() as (kb, store):
            member_id = await _portal(store, portal)
            return await kb.suggestions.approve(member_id, suggestion_id, answer=answer)

    done = _run(go)
    typer.echo(f"approved / одобрено: {done.source}")


@suggestions_app.command("reject")
def reject_suggestion(
    suggestion_id: Annotated[int, typer.Argument(help="Suggestion id / Номер подсказки")],
    portal: PortalOpt = None,
) -> None:
    """Reject a suggestion / Отклонить подсказку."""

    async def go() -> Any:
        async with _knowledge() as (kb, store):
            member_id = await _portal(store, portal)
            return await kb.suggestions.reject(member_id, suggestion_id)

    _run(go)
    typer.echo(f"rejected / отклонено: {suggestion_id}")
