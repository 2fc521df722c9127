"""``b24claude memory …`` — what the bot remembers about clients between dialogues: list, forget, extract.

Thin: each command resolves the portal, calls one service method and prints the result.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from b24claude.cli.kb import PortalOpt, _fail, _portal, _run

if TYPE_CHECKING:
    from b24claude.bootstrap import Container

memory_app = typer.Typer(
    no_args_is_help=True,
    help="Client memory between dialogues / Память о клиентах между диалогами.",
)
ClientOpt = Annotated[
    str | None,
    typer.Option("--client", help="Client key: contact:ID or user:ID / Ключ клиента: contact:ID или user:ID"),
]


@asynccontextmanager
async def _container() -> AsyncIterator[Container]:
    from b24claude.bootstrap import build
    from b24claude.settings import Settings

    container = await build(Settings(), role="all")
    try:
        yield container
    finally:
        await container.stop()


def _check_client(client: str | None) -> None:
    if client is not None and not client.startswith(("contact:", "user:")):
        _fail("--client is contact:ID or user:ID / --client — это contact:ID или user:ID")


@memory_app.command("list")
def list_facts(
    portal: PortalOpt = None,
    client: ClientOpt = None,
    as_json: bool = typer.Option(False, "--json", help="JSON lines / строки JSON"),
) -> None:
    """Facts remembered about clients, newest first / Факты о клиентах, сначала новые."""
    _check_client(client)

    async def go() -> list[Any]:
        async with _container() as c:
            member = await _portal(c.store, portal)
            return list(await c.memory.facts(member, client_key=client))

    facts = _run(go)
    now = time.time()
    for f in facts:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": f.id,
                        "client": f.client_key,
                        "kind": f.kind,
                        "text": f.text,
                        "source_dialog": f.source_dialog,
                        "created_at": f.created_at,
                        "expires_at": f.expires_at,
                        "expired": f.expires_at <= now,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            until = time.strftime("%Y-%m-%d", time.gmtime(f.expires_at))
            typer.echo(f"{f.id}\t{f.client_key}\t{f.kind}\t{until}\t{f.text}")
    if not facts and not as_json:
        typer.echo("nothing remembered / ничего не запомнено")


@memory_app.command("forget")
def forget(
    portal: PortalOpt = None,
    client: ClientOpt = None,
    fact: int | None = typer.Option(None, "--id", help="One fact by id / Один факт по id"),
) -> None:
    """Delete one fact or everything about one client / Удалить факт или всё о клиенте."""
    _check_client(client)
    if client is None and fact is None:
        _fail("name --client or --id / укажите --client или --id")

    async def go() -> int:
        async with _container() as c:
            member = await _portal(c.store, portal)
            return await c.memory.forget(member, client_key=client, fact_id=fact)

    typer.echo(f"forgotten / удалено: {_run(go)}")


@memory_app.command("extract")
def extract(
    idle_min: float = typer.Option(
        None,
        "--idle-min",
        help="Minutes of quiet that finish a dialogue (default: the setting) / "
        "Минут тишины, после которых диалог считается завершённым",
    ),
) -> None:
    """Read finished dialogues for client facts now (the service does it by itself) /
    Извлечь факты из завершённых диалогов сейчас (сервис делает это сам)."""

    async def go() -> Any:
        async with _container() as c:
            return await c.memory.sweep(idle_s=None if idle_min is None else idle_min * 60)

    report = _run(go)
    typer.echo(
        f"dialogues / диалогов: {report.dialogues}, facts / фактов: {report.facts}, failed / ошибок: {report.failed}"
    )
    if report.failed:
        raise typer.Exit(1)
