"""The CLI's side of the checks: settings that do not parse, a store that is not there, a refusal
to start — each said in readable lines and an exit code, never a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NoReturn

import typer
from pydantic import ValidationError

from b24claude.cli.checks import Problem, Purpose, database_file_problems, run_checks, settings_problems
from b24claude.settings import Settings

EXIT_PROBLEM = 2


def say(problems: Sequence[Problem], *, err: bool = True) -> None:
    for problem in problems:
        typer.echo(problem.line(), err=err)


def refuse(problems: Sequence[Problem]) -> NoReturn:
    say(problems)
    raise typer.Exit(EXIT_PROBLEM)


def load_settings() -> Settings:
    """``Settings()`` from the environment and ``.env``; a value that does not parse is a line each."""
    try:
        return Settings()
    except ValidationError as exc:
        refuse(settings_problems(exc))


def store_settings() -> Settings:
    """The settings of a command that reads the store: it must exist (no empty database is made)."""
    settings = load_settings()
    fatal = [p for p in database_file_problems(settings, "read") if p.fatal]
    if fatal:
        refuse(fatal)
    return settings


def checked(settings: Settings, purpose: Purpose) -> list[Problem]:
    """Every problem; exits on a fatal one after printing all of them (warnings too)."""
    problems = asyncio.run(run_checks(settings, purpose))
    if any(p.fatal for p in problems):
        refuse(problems)
    return problems
