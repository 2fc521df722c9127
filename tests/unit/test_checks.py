"""``b24claude check``: each problem of the settings and the environment is one readable line, in
English and Russian, fatal or a warning."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from b24claude.adapters.crypto import Keyring, new_key
from b24claude.adapters.sql import migrate
from b24claude.cli.checks import Problem, run_checks
from b24claude.settings import Settings

CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")


@pytest.fixture
def good(tmp_path: Path) -> dict[str, Any]:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "faq.md").write_text("# Часы работы\nС 9 до 18.\n", encoding="utf-8")
    return {
        "public_url": "https://b24claude.example.com",
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/b24claude.db",
        "b24_client_id": "local.6720f1a2b3c4d5.12345678",
        "b24_client_secret": "client-secret",
        "anthropic_api_key": "sk-ant-test",
        "secret_keys": new_key(),
        "knowledge_dir": str(knowledge),
    }


async def problems_of(values: dict[str, Any], purpose: str = "check") -> list[Problem]:
    return await run_checks(Settings(_env_file=None, **values), purpose)  # type: ignore[arg-type]


def assert_readable(problem: Problem) -> None:
    line = problem.line()
    assert "\n" not in line and f"[{problem.code}]" in line
    assert CYRILLIC.search(problem.ru) and not CYRILLIC.search(problem.en)
    assert line.startswith("ERROR / ОШИБКА" if problem.fatal else "WARNING / ПРЕДУПРЕЖДЕНИЕ")


async def test_a_good_configuration_has_no_problem(good: dict[str, Any]) -> None:
    await migrate(good["database_url"])
    assert await problems_of(good) == []


@pytest.mark.parametrize(
    ("change", "code", "fatal", "says"),
    [
        ({"b24_client_id": ""}, "b24_client_id_missing", True, "B24C_B24_CLIENT_ID"),
        ({"b24_client_secret": ""}, "b24_client_secret_missing", True, "B24C_B24_CLIENT_SECRET"),
        ({"anthropic_api_key": " "}, "anthropic_api_key_missing", True, "B24C_ANTHROPIC_API_KEY"),
        # What copying the README's line gave: a key that is not a Fernet key, and the fix.
        ({"secret_keys": "..."}, "secret_keys_invalid", True, "`b24claude privacy new-key`"),
        ({"secret_keys": f"{new_key()},not-a-key"}, "secret_keys_invalid", True, "key 2 is not a Fernet key"),
        (
            {"database_url": "sqlite+aiosqlite:////nonexistent-dir/x.db"},
            "database_dir_missing",
            True,
            "/nonexistent-dir",
        ),
        ({"database_url": "mysql://db/x"}, "database_url_invalid", True, "unsupported database"),
        (
            {"database_url": "postgresql+asyncpg://app:pw@127.0.0.1:1/b24"},
            "database_unreachable",
            True,
            "does not answer",
        ),
        ({"knowledge_dir": ""}, "knowledge_dir_unset", False, "without a knowledge base"),
        ({"knowledge_dir": "/nonexistent-kb"}, "knowledge_dir_missing", False, "/nonexistent-kb"),
        ({"public_url": "http://b24claude.example.com"}, "public_url_not_https", False, "clear text"),
        ({"public_url": "http://127.0.0.1:8080"}, "public_url_not_https", False, "sandbox"),
        ({"public_url": "b24claude.example.com"}, "public_url_invalid", True, "not an http(s) URL"),
    ],
)
async def test_each_problem_is_one_line_in_both_languages(
    good: dict[str, Any], change: dict[str, Any], code: str, fatal: bool, says: str
) -> None:
    await migrate(good["database_url"])
    [problem] = await problems_of({**good, **change})
    assert (problem.code, problem.fatal) == (code, fatal)
    assert says in problem.line()
    assert_readable(problem)


async def test_an_empty_knowledge_folder_is_a_warning(good: dict[str, Any], tmp_path: Path) -> None:
    await migrate(good["database_url"])
    empty = tmp_path / "empty"
    empty.mkdir()
    [problem] = await problems_of({**good, "knowledge_dir": str(empty)})
    assert (problem.code, problem.fatal) == ("knowledge_dir_empty", False)
    assert_readable(problem)


async def test_a_missing_database_file_is_created_by_serve_but_refused_by_readers(
    good: dict[str, Any], tmp_path: Path
) -> None:
    [for_serve] = await problems_of(good, "serve")
    assert (for_serve.code, for_serve.fatal) == ("database_new", False)
    [for_reader] = await problems_of(good, "read")
    assert (for_reader.code, for_reader.fatal) == ("database_missing", True)
    assert str(tmp_path / "b24claude.db") in for_reader.line() and "nothing was created" in for_reader.en
    assert_readable(for_reader)
    assert not (tmp_path / "b24claude.db").exists()  # checking created nothing


async def test_a_new_key_file_is_a_warning_and_a_readable_one_by_others_is_fatal(
    good: dict[str, Any], tmp_path: Path
) -> None:
    await migrate(good["database_url"])
    key_file = tmp_path / "keys" / "b24claude.key"
    values = {**good, "secret_keys": "", "secret_key_file": str(key_file)}
    [new] = await problems_of(values)
    assert (new.code, new.fatal) == ("key_file_new", False) and str(key_file) in new.line()
    assert not key_file.exists()  # check creates no key file; serve does
    Keyring.from_file(key_file)
    assert await problems_of(values) == []
    os.chmod(key_file, 0o644)
    [loose] = await problems_of(values)
    assert (loose.code, loose.fatal) == ("secret_keys_invalid", True) and "chmod 600" in loose.line()
    assert_readable(loose)


async def test_an_encrypted_setting_that_no_key_opens_is_fatal(good: dict[str, Any]) -> None:
    await migrate(good["database_url"])
    other = Keyring.parse([new_key()], "other")
    [problem] = await problems_of({**good, "anthropic_api_key": other.encrypt_setting("sk-ant-real")})
    assert (problem.code, problem.fatal) == ("secret_setting_undecryptable", True)
    assert "B24C_ANTHROPIC_API_KEY" in problem.en and "encrypt-secret" in problem.line()
    ours = Keyring.parse([good["secret_keys"]], "ours")
    assert await problems_of({**good, "anthropic_api_key": ours.encrypt_setting("sk-ant-real")}) == []


async def test_fatal_problems_come_first(good: dict[str, Any]) -> None:
    await migrate(good["database_url"])
    problems = await problems_of({**good, "knowledge_dir": "", "anthropic_api_key": "", "secret_keys": "x"})
    assert [(p.code, p.fatal) for p in problems] == [
        ("anthropic_api_key_missing", True),
        ("secret_keys_invalid", True),
        ("knowledge_dir_unset", False),
    ]
