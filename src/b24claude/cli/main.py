"""``b24claude`` — serve, demo, sandbox emulators, inbox tools.

Help texts are bilingual (English / Russian), as is everything a person reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from b24claude.cli.kb import kb_app
from b24claude.cli.memory import memory_app
from b24claude.cli.privacy import privacy_app

if TYPE_CHECKING:
    from b24claude.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="b24claude: Claude for Bitrix24 / Claude для Битрикс24.",
)
sandbox_app = typer.Typer(
    no_args_is_help=True,
    help="Local emulators of Bitrix24 and the Claude API / Локальные эмуляторы Битрикс24 и Claude API.",
)
inbox_app = typer.Typer(no_args_is_help=True, help="The durable event inbox / Очередь входящих событий.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(inbox_app, name="inbox")
app.add_typer(privacy_app, name="privacy")
app.add_typer(kb_app, name="kb")
app.add_typer(memory_app, name="memory")


def _logging(level: str, settings: Settings | None = None) -> None:
    """Structured, redacted logs (``adapters/logs.py``): the service's settings for ``serve``; console
    lines at ``level`` for the demo and the emulators."""
    from b24claude.adapters.logs import configure_logging
    from b24claude.settings import Settings

    if settings is None:
        settings = Settings(_env_file=None, log_level=level, log_format="console", log_dir="")
    configure_logging(settings)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address / Адрес")] = None,
    port: Annotated[int | None, typer.Option(help="Port / Порт")] = None,
) -> None:
    """Run the service against a real portal and the Claude API (settings from B24C_* / .env).

    Запустить сервис для реального портала и Claude API (настройки из B24C_* / .env).
    """
    import logging

    import uvicorn

    from b24claude.cli.preflight import checked, load_settings, say
    from b24claude.cli.runtime import serve_app

    settings = load_settings()
    _logging(settings.log_level, settings)
    say(checked(settings, "serve"))  # the warnings; a fatal problem has exited with its lines
    bind_host, bind_port = host or settings.host, port or settings.port
    logging.getLogger("b24claude").info(
        "service.starting", extra={"host": bind_host, "port": bind_port, "public_url": settings.public_url}
    )
    server = uvicorn.Server(serve_app(settings, host=bind_host, port=bind_port))
    server.run()  # a failed start-up (its reason logged in one line, cli/runtime.py) exits 3
    if not server.started:
        raise typer.Exit(3)  # uvicorn versions that return instead of exiting


@app.command()
def check() -> None:
    """Check the settings and the environment; one line per problem, exit code 2 on a fatal one.

    Проверить настройки и окружение: по строке на каждую проблему, код выхода 2 при критической.
    """
    from b24claude.cli.checks import run_checks
    from b24claude.cli.preflight import EXIT_PROBLEM, load_settings, say

    problems = asyncio.run(run_checks(load_settings(), "check"))
    say(problems, err=False)
    fatal = sum(p.fatal for p in problems)
    if not problems:
        typer.echo("All checks passed / Все проверки пройдены")
    else:
        typer.echo(
            f"{fatal} fatal, {len(problems) - fatal} warnings / критических: {fatal}, "
            f"предупреждений: {len(problems) - fatal}"
        )
    raise typer.Exit(EXIT_PROBLEM if fatal else 0)


@app.command("env-example")
def env_example() -> None:
    """Print .env.example: every setting, its default and what it does (from settings.py).

    Напечатать .env.example: все настройки, их значения по умолчанию и назначение (из settings.py).
    """
    import sys

    from b24claude.cli.envfile import render_env_example

    sys.stdout.write(render_env_example())


@app.command()
def worker() -> None:
    """Answer stored events from the broker (scale-out; needs B24C_BROKER_URL); run as many as needed.

    Обрабатывать сохранённые события из брокера (масштабирование; нужен B24C_BROKER_URL); процессов
    может быть сколько угодно.
    """
    from b24claude.cli.runtime import run_worker
    from b24claude.errors import B24ClaudeError, ConfigurationError
    from b24claude.settings import Settings

    settings = Settings()
    _logging(settings.log_level, settings)
    if not settings.broker_url:
        typer.echo(
            "B24C_BROKER_URL is not set: the embedded `b24claude serve` runs its own worker. / "
            "B24C_BROKER_URL не задан: встроенный `b24claude serve` обрабатывает события сам.",
            err=True,
        )
        raise typer.Exit(2)
    try:
        asyncio.run(run_worker(settings))
    except ConfigurationError as exc:
        typer.echo(f"configuration error / ошибка настройки: {exc}", err=True)
        raise typer.Exit(2) from None
    except B24ClaudeError as exc:  # the store, the broker or Redis unreachable at start-up
        typer.echo(f"start-up failed / запуск не удался: {exc}", err=True)
        raise typer.Exit(3) from None


@app.command()
def demo(
    quiet: Annotated[bool, typer.Option(help="Only the summary / Только итог")] = False,
    bot_api: Annotated[str, typer.Option(help="v2 (fetch) or v1 (classic events) / v2 или v1")] = "v2",
) -> None:
    """Show the whole loop with no credentials: both emulators, the app, scripted Russian chats.

    Показать весь цикл без ключей: эмуляторы портала и Claude, приложение, сценарии диалогов.
    """
    from b24claude.cli.demo import run_demo

    _logging("WARNING")
    code = asyncio.run(run_demo(quiet=quiet, bot_api=bot_api))
    raise typer.Exit(code)


@app.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="Labelled conversations, JSONL / Размеченные диалоги, JSONL")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per conversation, then a summary / JSON на диалог и итог")
    ] = False,
    knowledge: Annotated[
        Path | None, typer.Option(help="Load this knowledge base first / Сначала загрузить эту базу знаний")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write results here / Куда сохранить результаты")] = None,
) -> None:
    """Replay labelled conversations and score classification, handoffs, retrieval, cost.

    Прогнать размеченные диалоги и оценить классификацию, передачу человеку, поиск, стоимость.
    Against the sandbox the figures measure the pipeline, not Claude's judgement /
    в песочнице цифры измеряют конвейер, а не суждения Claude.
    """
    import json

    from b24claude.cli.evaluate import run_eval

    _logging("WARNING")
    if not file.is_file():
        typer.echo(f"no such file / нет такого файла: {file}", err=True)
        raise typer.Exit(2)
    if knowledge is not None and not knowledge.is_dir():
        typer.echo(f"no such folder / нет такой папки: {knowledge}", err=True)
        raise typer.Exit(2)
    try:
        summary = asyncio.run(run_eval(file, knowledge=knowledge, out=out, as_json=as_json))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            typer.echo(f"{key:28} {value}")


@sandbox_app.command("portal")
def sandbox_portal(
    port: Annotated[int, typer.Option(help="Port / Порт")] = 8081,
    host: Annotated[str, typer.Option(help="Bind address / Адрес")] = "127.0.0.1",
    rate: Annotated[float, typer.Option(help="REST requests per second / Запросов в секунду")] = 2.0,
    burst: Annotated[int, typer.Option(help="Leaky-bucket size / Размер «ведра»")] = 50,
) -> None:
    """Run the Bitrix24 portal emulator / Запустить эмулятор портала Битрикс24."""
    from b24claude.cli.runtime import run_portal_sandbox

    _logging("INFO")
    asyncio.run(run_portal_sandbox(host=host, port=port, rate=rate, burst=burst))


@sandbox_app.command("claude")
def sandbox_claude(
    port: Annotated[int, typer.Option(help="Port / Порт")] = 8082,
    host: Annotated[str, typer.Option(help="Bind address / Адрес")] = "127.0.0.1",
) -> None:
    """Run the Claude API emulator / Запустить эмулятор Claude API."""
    from b24claude.cli.runtime import run_claude_sandbox

    _logging("INFO")
    asyncio.run(run_claude_sandbox(host=host, port=port))


@inbox_app.command("stats")
def inbox_stats() -> None:
    """Counts of inbox rows by status / Число событий по статусам."""
    from b24claude.cli.preflight import store_settings
    from b24claude.cli.runtime import inbox_counts

    counts = asyncio.run(inbox_counts(store_settings()))
    for status, n in sorted(counts.items()):
        typer.echo(f"{status}: {n}")


@inbox_app.command("list")
def inbox_list(
    status: Annotated[
        list[str] | None,
        typer.Option(help="failed, pending, processing, done, ignored / статус (можно несколько)"),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows at most / Не больше строк")] = 50,
) -> None:
    """Stuck and failed events, newest first / Зависшие и неудачные события, новые сверху.

    Failed rows are the dead letters: their last error says why; `inbox replay` runs them again.
    Неудачные строки — «мёртвые письма»: последняя ошибка объясняет причину; `inbox replay` повторит их.
    """
    from b24claude.cli.preflight import store_settings
    from b24claude.cli.runtime import inbox_rows

    rows = asyncio.run(
        inbox_rows(store_settings(), statuses=status or ["failed", "pending", "processing"], limit=limit)
    )
    if not rows:
        typer.echo("nothing / ничего")
    for row in rows:
        error = row.last_error.replace("\n", " ")[:120]
        typer.echo(f"{row.id}\t{row.status}\t{row.kind}\t{row.member_id}\tattempts={row.attempts}\t{error}")


@inbox_app.command("replay")
def inbox_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Row ids / Номера строк")] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every failed row / Все неудачные")
    ] = False,
) -> None:
    """Run events again with a fresh retry budget / Повторить события с новым запасом попыток.

    Effects are recorded per row, so a replay never answers or writes twice.
    Действия записываются по строке: повтор не ответит и не запишет дважды.
    """
    from b24claude.cli.preflight import store_settings
    from b24claude.cli.runtime import inbox_replay as replay

    if not ids and not all_failed:
        typer.echo("name row ids or --all-failed / укажите номера строк или --all-failed", err=True)
        raise typer.Exit(2)
    count = asyncio.run(replay(store_settings(), ids=list(ids or []), all_failed=all_failed))
    typer.echo(f"replayed / повторено: {count}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
