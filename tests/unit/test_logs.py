"""Structured logs without message text, tokens or PII (``adapters/logs.py``)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from b24claude.adapters.logs import configure_logging, reset_logging, scrub
from b24claude.settings import Settings

TEXT = "Меня зовут Анна Петрова, телефон +7 916 123-45-67"
ACCESS = "acc0a7c1e5"
REFRESH = "ref4d2b9f0"
APP_TOKEN = "apptok99e1"
API_KEY = "sk-ant-api03-Zx9"
BEARER = "eyJhbGciOi.payload.sig"
SECRETS = (ACCESS, REFRESH, APP_TOKEN, API_KEY, BEARER, "cs-9f8e7d", "w3bh00kc0de")


def mask(text: str) -> str:
    return text.replace("Анна Петрова", "[ИМЯ_1]").replace("+7 916 123-45-67", "[ТЕЛЕФОН_1]")


Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure(tmp_path: Path) -> Iterator[Configure]:
    root = logging.getLogger()
    level = root.level
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "anthropic", "hpack")}

    def _configure(**kwargs: Any) -> io.StringIO:
        options = {"log_format": "json", "log_level": "DEBUG", **kwargs.pop("settings", {})}
        stream = io.StringIO()
        configure_logging(Settings(_env_file=None, **options), stream=stream, **kwargs)
        return stream

    yield _configure
    reset_logging()
    root.setLevel(level)
    for name, lvl in chatty.items():
        logging.getLogger(name).setLevel(lvl)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def log_everything(log: logging.Logger, member_id: str) -> None:
    log.warning(
        "GET https://acme.bitrix24.ru/oauth/token/?grant_type=refresh_token&refresh_token=%s"
        "&client_secret=cs-9f8e7d then https://acme.bitrix24.ru/rest/1/w3bh00kc0de/crm.contact.get?auth=%s",
        REFRESH,
        ACCESS,
        extra={
            "member_id": member_id,
            "inbox_id": 7,
            "text": TEXT,
            "access_token": ACCESS,
            "auth": {"access_token": ACCESS, "application_token": APP_TOKEN},
            "headers": {"Authorization": f"Bearer {BEARER}", "x-api-key": API_KEY},
            "note": f"client sent Authorization: Bearer {BEARER} with key {API_KEY}",
            "payload": {"data": {"PARAMS": {"MESSAGE": TEXT}}, "auth": {"application_token": APP_TOKEN}},
        },
    )


def test_text_tokens_bearer_and_url_secrets_never_come_out(configure: Configure) -> None:
    out = configure()
    log_everything(logging.getLogger("b24claude.test"), "p1")
    raw = out.getvalue()
    for secret in SECRETS:
        assert secret not in raw
    assert "Анна" not in raw and "916" not in raw
    [record] = lines(out)
    assert record["member_id"] == "p1" and record["inbox_id"] == 7  # the useful fields stay
    assert record["access_token"] == "***" and record["auth"] == "***"
    assert record["headers"] == {"Authorization": "***", "x-api-key": "***"}
    assert "text" not in record and "payload" not in record
    assert "refresh_token=***" in record["event"] and "auth=***" in record["event"]
    assert "/rest/1/***/crm.contact.get" in record["event"]
    assert record["level"] == "warning" and record["logger"] == "b24claude.test"


def test_text_appears_masked_only_for_the_portal_that_allows_it(configure: Configure) -> None:
    out = configure(text_allowed=lambda member_id: member_id == "p1", mask=mask)
    log = logging.getLogger("b24claude.test")
    log_everything(log, "p1")
    log_everything(log, "p2")
    allowed, other = lines(out)
    assert allowed["text"] == "Меня зовут [ИМЯ_1], телефон [ТЕЛЕФОН_1]"
    assert allowed["payload"] == {
        "data": {"PARAMS": {"MESSAGE": "Меня зовут [ИМЯ_1], телефон [ТЕЛЕФОН_1]"}},
        "auth": "***",
    }
    assert "text" not in other and "payload" not in other
    raw = out.getvalue()
    assert "Анна" not in raw and "916" not in raw
    for secret in SECRETS:
        assert secret not in raw


def test_text_allowed_service_wide_still_needs_a_mask(configure: Configure) -> None:
    out = configure(settings={"log_message_text": True})
    logging.getLogger("b24claude.test").info("reply sent", extra={"member_id": "p1", "reply": TEXT})
    logging.getLogger("b24claude.test").info("no portal", extra={"prompt": TEXT})
    assert all("reply" not in r and "prompt" not in r for r in lines(out))
    assert "Анна" not in out.getvalue()


def test_the_service_wide_default_governs_records_without_a_portal(configure: Configure) -> None:
    out = configure(settings={"log_message_text": True}, mask=mask)
    logging.getLogger("b24claude.test").info("service", extra={"prompt": TEXT})
    [record] = lines(out)
    assert record["prompt"] == "Меня зовут [ИМЯ_1], телефон [ТЕЛЕФОН_1]"


def test_a_failing_policy_lookup_keeps_text_out(configure: Configure) -> None:
    def broken(_member_id: str) -> bool:
        raise RuntimeError("policy store down")

    out = configure(text_allowed=broken, mask=mask)
    logging.getLogger("b24claude.test").info("x", extra={"member_id": "p1", "text": TEXT})
    [record] = lines(out)
    assert "text" not in record


def test_per_portal_files_by_utc_day(configure: Configure, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    configure(settings={"log_dir": str(root)})
    log = logging.getLogger("b24claude.test")
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC).timestamp()
    early = datetime(2026, 3, 2, 0, 30, tzinfo=UTC).timestamp()
    for created, fields in (
        (late, {"member_id": "p1", "n": 1}),
        (early, {"member_id": "p1", "n": 2}),
        (late, {"member_id": "p2", "n": 3}),
        (late, {"n": 4}),
        (late, {"member_id": "../../escape", "n": 5}),
    ):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "event", (), None, extra=fields)
        record.created = created
        log.handle(record)
    logging.getLogger("b24claude.bitrix24").info("bitrix24.refresh.start member_id=%s", "p2")

    def numbers(path: Path) -> list[Any]:
        return [json.loads(line).get("n") for line in path.read_text(encoding="utf-8").splitlines()]

    assert numbers(root / "p1" / "2026-03-01.jsonl") == [1]
    assert numbers(root / "p1" / "2026-03-02.jsonl") == [2]
    assert numbers(root / "p2" / "2026-03-01.jsonl") == [3]
    assert numbers(root / "_service" / "2026-03-01.jsonl") == [4]
    assert numbers(root / "_invalid" / "2026-03-01.jsonl") == [5]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    [refresh] = [json.loads(x) for x in (root / "p2" / f"{today}.jsonl").read_text().splitlines()]
    assert refresh["member_id"] == "p2"  # taken from the message of an adapter's %-style record
    assert sorted(p.name for p in root.iterdir()) == ["_invalid", "_service", "p1", "p2"]
    assert not (tmp_path / "escape").exists()


def test_files_are_redacted_too(configure: Configure, tmp_path: Path) -> None:
    configure(settings={"log_dir": str(tmp_path)})
    log_everything(logging.getLogger("b24claude.test"), "p1")
    [path] = list((tmp_path / "p1").iterdir())
    raw = path.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in raw
    assert "Анна" not in raw and json.loads(raw)["inbox_id"] == 7


def test_stdlib_and_structlog_records_go_through_the_same_processors(configure: Configure) -> None:
    out = configure(text_allowed=lambda member_id: member_id == "p1", mask=mask)
    logging.getLogger("b24claude.std").info("hello", extra={"member_id": "p1", "text": TEXT, "token": ACCESS})
    structlog.get_logger("b24claude.native").info("hello", member_id="p1", text=TEXT, token=ACCESS)
    std, native = lines(out)
    assert std.pop("logger") == "b24claude.std" and native.pop("logger") == "b24claude.native"
    std.pop("timestamp"), native.pop("timestamp")
    assert (
        std
        == native
        == {
            "event": "hello",
            "level": "info",
            "member_id": "p1",
            "text": "Меня зовут [ИМЯ_1], телефон [ТЕЛЕФОН_1]",
            "token": "***",
        }
    )


def test_tracebacks_are_scrubbed(configure: Configure) -> None:
    out = configure()
    try:
        raise RuntimeError(f"call failed: https://x.bitrix24.ru/rest/im.x?auth={ACCESS}")
    except RuntimeError:
        logging.getLogger("b24claude.test").exception("handler crashed", extra={"member_id": "p1"})
    [record] = lines(out)
    assert "RuntimeError" in record["exception"] and "auth=***" in record["exception"]
    assert ACCESS not in out.getvalue()


def test_console_format_is_redacted_too(configure: Configure) -> None:
    out = configure(settings={"log_format": "console"})
    log_everything(logging.getLogger("b24claude.test"), "p1")
    raw = out.getvalue()
    assert "b24claude.test" in raw and "inbox_id" in raw
    for secret in SECRETS:
        assert secret not in raw
    assert "Анна" not in raw
    with pytest.raises(ValueError):
        json.loads(raw)


def test_reconfiguring_replaces_the_handlers(configure: Configure) -> None:
    first = configure()
    second = configure()
    logging.getLogger("b24claude.test").info("once")
    assert first.getvalue() == "" and len(lines(second)) == 1


def test_chatty_libraries_are_held_at_warning(configure: Configure) -> None:
    configure(settings={"log_level": "DEBUG"})
    # The Anthropic SDK logs request bodies (prompts) at DEBUG; httpx logs OAuth URLs at INFO.
    assert logging.getLogger("anthropic").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://p.bitrix24.ru/rest/im.x?auth=abc123&x=1", "https://p.bitrix24.ru/rest/im.x?auth=***&x=1"),
        (
            "/oauth/token/?client_id=app.1&client_secret=s3cr3t",
            "/oauth/token/?client_id=app.1&client_secret=***",
        ),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("auth[access_token]=abc&auth[domain]=p.ru", "auth[access_token]=***&auth[domain]=p.ru"),
        ('{"refresh_token": "r1", "expires": 3600}', '{"refresh_token": "***", "expires": 3600}'),
        ("PortalAuth(access_token='a1', expires_at=1.0)", "PortalAuth(access_token='***', expires_at=1.0)"),
        ("key sk-ant-api03-abc_DEF", "key sk-ant-***"),
        ("https://p.bitrix24.ru/rest/1/abcdef123456/profile", "https://p.bitrix24.ru/rest/1/***/profile"),
        ("postgresql://app:pw0rd@db:5432/b24", "postgresql://app:***@db:5432/b24"),
        ("fernet:gAAAAABn" + "x" * 40, "fernet:***"),
        ("bitrix24.call.error member_id=abc method=im.x status=500", None),
    ],
)
def test_scrub(text: str, expected: str | None) -> None:
    assert scrub(text) == (text if expected is None else expected)


def test_no_terminal_colour_codes_in_json_lines(configure: Configure) -> None:
    stream = configure()
    # uvicorn's style: the message, plus a coloured copy in ``color_message`` for its own formatter.
    # (A logger of our own name: uvicorn servers started by other tests may have set "uvicorn" not
    # to propagate; `b24claude serve` gives uvicorn no logging config, so there it does.)
    logging.getLogger("b24claude.test.uvicorn_style").warning(
        "Invalid HTTP request received.", extra={"color_message": "\x1b[31mInvalid\x1b[0m HTTP request"}
    )
    logging.getLogger("b24claude.test").warning("\x1b[1mbold\x1b[0m", extra={"where": "\x1b[32mhere\x1b[0m"})
    raw = stream.getvalue()
    assert "\x1b" not in raw and "\\u001b" not in raw
    first, second = lines(stream)
    assert first["event"] == "Invalid HTTP request received." and "color_message" not in first
    assert (second["event"], second["where"]) == ("bold", "here")


def test_third_party_info_is_held_at_warning(configure: Configure) -> None:
    stream = configure(settings={"log_level": "INFO"})
    for name in ("alembic.runtime.migration", "httpx", "sqlalchemy.engine.Engine", "pymorphy3.x"):
        logging.getLogger(name).info("chatter")
        logging.getLogger(name).warning("worth reading")
    logging.getLogger("b24claude.test").info("ours")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "websockets"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    assert [(r["logger"], r["event"]) for r in lines(stream)] == [
        ("alembic.runtime.migration", "worth reading"),
        ("httpx", "worth reading"),
        ("sqlalchemy.engine.Engine", "worth reading"),
        ("pymorphy3.x", "worth reading"),
        ("b24claude.test", "ours"),
    ]
