"""The CLI says what is wrong: ``check`` lists the problems, ``serve`` refuses a fatal one with its line
and a non-zero exit (no traceback), the sandbox's own settings are not refused, and the commands that
read the store never create an empty database somewhere else."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from b24claude.adapters.crypto import new_key
from b24claude.adapters.sql import migrate
from b24claude.cli.runtime import free_port
from b24claude.cli.stack import SandboxStack


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``b24claude …`` as an admin runs it: its own working directory, only the given B24C_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("B24C_")}
    return subprocess.run(
        [sys.executable, "-m", "b24claude.cli.main", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def real_portal_env(tmp_path: Path) -> dict[str, str]:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir(exist_ok=True)
    (knowledge / "faq.md").write_text("# Доставка\nЗа 2 дня.\n", encoding="utf-8")
    return {
        "B24C_PUBLIC_URL": "https://b24claude.example.com",
        "B24C_PORT": str(free_port()),
        "B24C_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b24claude.db",
        "B24C_B24_CLIENT_ID": "local.6720f1a2b3c4d5.12345678",
        "B24C_B24_CLIENT_SECRET": "client-secret",
        "B24C_ANTHROPIC_API_KEY": "sk-ant-test",
        "B24C_SECRET_KEYS": new_key(),
        "B24C_KNOWLEDGE_DIR": str(knowledge),
    }


@pytest.fixture
async def stack() -> AsyncIterator[SandboxStack]:
    s = SandboxStack(bot_api="v2")
    await s.start(install=False)
    try:
        yield s
    finally:
        await s.stop()


def test_serve_refuses_the_readme_placeholder_key_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {**real_portal_env(tmp_path), "B24C_SECRET_KEYS": "..."}
    out = run_cli("serve", cwd=tmp_path, env=env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    [line] = [x for x in out.stderr.splitlines() if "[secret_keys_invalid]" in x]
    assert line.startswith("ERROR / ОШИБКА") and "`b24claude privacy new-key`" in line
    assert "не ключ Fernet" in line
    assert not (tmp_path / "b24claude.db").exists()  # refused before anything was created


def test_serve_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    env = real_portal_env(tmp_path)
    for name in ("B24C_B24_CLIENT_ID", "B24C_ANTHROPIC_API_KEY"):
        del env[name]
    out = run_cli("serve", cwd=tmp_path, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    codes = [x.split("]")[0].split("[")[-1] for x in out.stderr.splitlines() if x.startswith("ERROR")]
    assert codes == ["b24_client_id_missing", "anthropic_api_key_missing"]


def test_serve_says_which_setting_does_not_parse(tmp_path: Path) -> None:
    env = {**real_portal_env(tmp_path), "B24C_PORT": "eighty", "B24C_BOT_API": "v3"}
    out = run_cli("serve", cwd=tmp_path, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = [x for x in out.stderr.splitlines() if "[setting_invalid]" in x]
    assert len(lines) == 2
    assert any("B24C_PORT" in x for x in lines) and any("B24C_BOT_API" in x for x in lines)


def test_check_lists_problems_and_exits_non_zero_on_a_fatal_one(tmp_path: Path) -> None:
    env = {**real_portal_env(tmp_path), "B24C_KNOWLEDGE_DIR": str(tmp_path / "nowhere")}
    warned = run_cli("check", cwd=tmp_path, env=env)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "[knowledge_dir_missing]" in warned.stdout and "[database_new]" in warned.stdout
    assert "0 fatal, 2 warnings / критических: 0, предупреждений: 2" in warned.stdout
    env["B24C_ANTHROPIC_API_KEY"] = ""
    refused = run_cli("check", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "[anthropic_api_key_missing]" in refused.stdout and "1 fatal, 2 warnings" in refused.stdout


def test_check_on_a_good_configuration_passes(tmp_path: Path) -> None:
    env = real_portal_env(tmp_path)
    asyncio.run(migrate(env["B24C_DATABASE_URL"]))
    out = run_cli("check", cwd=tmp_path, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "All checks passed / Все проверки пройдены"


async def test_the_sandbox_settings_are_not_refused(stack: SandboxStack, tmp_path: Path) -> None:
    """The demo's loopback http URL is a warning, not a reason to refuse."""
    out = run_cli("check", cwd=tmp_path, env=stack.app_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert [x.split("]")[0] + "]" for x in out.stdout.splitlines() if x.startswith(("ERROR", "WARNING"))] == [
        "WARNING / ПРЕДУПРЕЖДЕНИЕ [public_url_not_https]"
    ]


async def test_serve_with_another_installations_key_refuses_and_names_the_key(
    stack: SandboxStack, tmp_path: Path
) -> None:
    await stack.install()  # the database now holds the portal's tokens, under the stack's key
    env = {**stack.app_env(), "B24C_SECRET_KEYS": new_key(), "B24C_PORT": str(free_port())}
    out = run_cli("serve", cwd=tmp_path, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[secret_key_mismatch]" in out.stderr and "rotate-keys" in out.stderr


@pytest.mark.parametrize(
    "command",
    [["inbox", "stats"], ["privacy", "audit", "--portal", "p1"], ["privacy", "rotate-keys"]],
)
def test_store_readers_never_create_a_database_in_the_wrong_directory(
    tmp_path: Path, command: list[str]
) -> None:
    elsewhere = tmp_path / "not-the-service-dir"
    elsewhere.mkdir()
    env = {"B24C_SECRET_KEYS": new_key()}
    out = run_cli(*command, cwd=elsewhere, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[database_missing]" in out.stderr and str(elsewhere / "b24claude.db") in out.stderr
    assert list(elsewhere.iterdir()) == []  # no empty database, no key file


def test_inbox_stats_reads_an_existing_database(tmp_path: Path) -> None:
    asyncio.run(migrate(f"sqlite+aiosqlite:///{tmp_path}/b24claude.db"))
    out = run_cli("inbox", "stats", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "pending: 0" in out.stdout


def test_digest_key_never_makes_a_key_file_to_print_its_digest(tmp_path: Path) -> None:
    out = run_cli("privacy", "digest-key", cwd=tmp_path)
    assert out.returncode == 2 and "b24claude.key" in out.stderr and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


async def test_a_start_up_failure_the_checks_did_not_see_is_one_line_and_no_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``serve`` does when the container cannot be built after the checks passed (a key file
    replaced in between, say): uvicorn gets the reason as a failed lifespan start-up and never
    listens, and the process exits 3."""
    import logging

    import uvicorn

    from b24claude.cli.runtime import serve_app
    from b24claude.settings import Settings

    env = real_portal_env(tmp_path)
    settings = Settings(
        _env_file=None,
        **{k.removeprefix("B24C_").lower(): v for k, v in env.items()},
    ).model_copy(update={"secret_keys": Settings(_env_file=None, secret_keys="...").secret_keys})
    uvicorn_log = logging.getLogger("uvicorn")
    propagate, uvicorn_log.propagate = uvicorn_log.propagate, True  # other tests' servers may turn it off
    server = uvicorn.Server(serve_app(settings, host="127.0.0.1", port=settings.port))
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(SystemExit) as exited:
            await server.serve()
    finally:
        uvicorn_log.propagate = propagate
    assert exited.value.code == 3 and not server.started
    # (Once, though caplog may see it twice when another test left uvicorn a handler of its own.)
    [line] = {r.getMessage() for r in caplog.records if "start-up refused" in r.getMessage()}
    assert "запуск отменён" in line and "not a Fernet key" in line
    assert not any(r.exc_info for r in caplog.records)
