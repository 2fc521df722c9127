"""Structured, PII-free logs: structlog over the standard library's ``logging``.

Every record — ``logging.getLogger(...).info("...", extra={...})`` as much as ``structlog.get_logger()``
— goes through one chain of processors and comes out as one JSON object per line
(``B24C_LOG_FORMAT=json``) or as readable console lines (``console``) on stderr; with ``B24C_LOG_DIR``
also as JSON lines in ``<log_dir>/<member_id or "_service">/<YYYY-MM-DD>.jsonl`` (the UTC day of the
record; ``member_id`` from the record's fields, or from ``member_id=…`` in its message), which the
per-portal retention purges.

What the redaction processor does to every record:

* fields that carry secrets (``token``, ``access_token``, ``auth``, ``api_key``, ``authorization``,
  ``password``, ``client_secret``, anything ending in ``_token`` / ``_secret`` ...) become ``"***"``;
* fields that carry message text or personal data (``text``, ``message``, ``body``, ``payload``,
  ``reply``, ``prompt``, ``phone``, ``email``, ``name`` ...) are dropped, unless text logging is
  allowed for the record's portal (``text_allowed(member_id)``; records without a ``member_id``
  follow ``B24C_LOG_MESSAGE_TEXT``) — and even then they pass through ``mask`` (the PII
  pseudonymiser) and are dropped when there is none;
* every other string (the message itself, tracebacks, nested values) is scrubbed of what looks like a
  secret: ``auth=`` / ``access_token=`` ... query parameters, ``Bearer …``, ``key=value`` pairs of
  secret names, Anthropic API keys, Bitrix24 webhook codes, Fernet tokens, passwords in URLs.

Scrubbing cannot recognise personal data inside free text (an exception's message, say): code that
logs must keep such text out of the message and put it in a text field, where the rules above apply.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from b24claude.settings import Settings

REDACTED = "***"
SERVICE_DIR = "_service"

TextAllowed = Callable[[str], bool]
Mask = Callable[[str], str]

SECRET_FIELDS = frozenset(
    {
        "token", "access_token", "refresh_token", "application_token", "bot_token", "client_token",
        "auth", "auth_id", "refresh_id", "authorization", "proxy_authorization", "x_api_key",
        "api_key", "apikey", "password", "passwd", "secret", "client_secret", "secret_key",
        "secret_keys", "private_key", "cookie", "set_cookie", "session", "sessid", "credentials",
        "signature",
    }
)  # fmt: skip
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_apikey")
TEXT_FIELDS = frozenset(
    {
        # message text
        "text", "message", "messages", "body", "payload", "reply", "prompt", "content", "system",
        "question", "answer", "comment", "comments", "description", "history", "turns", "query",
        "transcript", "snippet", "completion",
        # personal data
        "name", "first_name", "last_name", "second_name", "full_name", "phone", "phones", "email",
        "emails", "address", "birthdate", "passport", "inn", "snils", "card",
    }
)  # fmt: skip

# LogRecord attributes that are not ``extra`` fields ("message"/"asctime" appear once formatted).
_RECORD_ATTRS = frozenset(logging.LogRecord("n", 0, "p", 0, "m", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Fields of the event dictionary itself: an ``extra`` of that name is kept as ``extra_<name>``.
_RESERVED = frozenset({"event", "level", "logger", "timestamp", "exception", "stack"})
_META = frozenset({"_record", "_from_structlog"})

_SECRET_PARAM = (
    r"access_token|refresh_token|application_token|client_secret|auth_id|refresh_id|auth|token|"
    r"api_key|apikey|password|passwd|secret|code|key|sig|signature"
)
_SECRET_NAME = (
    r"access_token|refresh_token|application_token|client_secret|auth_id|refresh_id|api_key|"
    r"x-api-key|password|passwd|secret_keys?"
)
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # ?auth=… &access_token=… in URLs and form bodies
    (re.compile(rf"([?&;](?:{_SECRET_PARAM})=)[^&#\s\"'<>]+", re.IGNORECASE), rf"\1{REDACTED}"),
    # access_token=…, "client_secret": "…", auth[access_token]=…, password='…'
    (
        re.compile(rf"((?:{_SECRET_NAME})[\"'\]]*\s*[:=]\s*[\"']?)[^\s\"'&,;)}}\]]+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]+"), f"sk-ant-{REDACTED}"),
    # Bitrix24 incoming webhooks: https://portal/rest/<user id>/<secret code>/method
    (re.compile(r"(/rest/\d+/)[A-Za-z0-9]{6,}"), rf"\1{REDACTED}"),
    # Fernet tokens, stored (fernet:) or in settings (enc:)
    (re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),
    # user:password@ in URLs
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)

_MAX_DEPTH = 6


def scrub(text: str) -> str:
    """``text`` with whatever looks like a secret replaced by ``***``."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def _field_kind(key: str) -> str:
    """'secret', 'text' or '' for an ordinary field."""
    parts = [p for p in re.split(r"[\[\].]+", key.lower().replace("-", "_")) if p]
    for part in parts:
        if part in SECRET_FIELDS or part.endswith(SECRET_SUFFIXES):
            return "secret"
    for part in parts:
        if part in TEXT_FIELDS:
            return "text"
    return ""


class Redactor:
    """The structlog processor: secrets out, text out (or masked), every string scrubbed."""

    def __init__(self, *, text_allowed: TextAllowed, default_allowed: bool, mask: Mask | None) -> None:
        self._text_allowed = text_allowed
        self._default_allowed = default_allowed
        self._mask = mask

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        allowed = self._mask is not None and self._allowed(event_dict.get("member_id"))
        for key in list(event_dict):
            if key in _META:
                continue
            value = self._field(str(key), event_dict[key], allowed, 0)
            if value is _DROP:
                del event_dict[key]
            else:
                event_dict[key] = value
        return event_dict

    def _allowed(self, member_id: Any) -> bool:
        if member_id is None or member_id == "":
            return self._default_allowed
        try:
            return bool(self._text_allowed(str(member_id)))
        except Exception:  # a failing policy lookup must not let text through
            return False

    def _field(self, key: str, value: Any, allowed: bool, depth: int) -> Any:
        kind = _field_kind(key)
        if kind == "secret":
            return REDACTED
        if kind == "text":
            return self._value(value, depth, masked=True) if allowed else _DROP
        return self._value(value, depth, masked=False)

    def _value(self, value: Any, depth: int, *, masked: bool) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            if masked:
                assert self._mask is not None
                return scrub(self._mask(value))
            return scrub(value)
        if depth >= _MAX_DEPTH:
            return "…"
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if masked:
                    kind = _field_kind(str(k))
                    new = REDACTED if kind == "secret" else self._value(v, depth + 1, masked=True)
                else:
                    new = self._field(str(k), v, False, depth + 1)
                if new is not _DROP:
                    out[str(k)] = new
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(v, depth + 1, masked=masked) for v in value]
        # Anything else is logged as its repr, which may name secret attributes (a dataclass).
        return self._value(repr(value), depth, masked=masked)


_DROP: Any = object()


# Extras that libraries add for their own coloured formatters (uvicorn's ``color_message``).
_DROPPED_EXTRAS = frozenset({"color_message"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _add_extra(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """The ``extra={...}`` fields of a standard-library record."""
    record: logging.LogRecord | None = event_dict.get("_record")
    if record is not None:
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRS or key in _DROPPED_EXTRAS or key.startswith("_"):
                continue
            event_dict[f"extra_{key}" if key in _RESERVED else key] = value
    return event_dict


def _strip_ansi(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """No terminal colour codes in a record (a library's coloured message): JSON lines stay plain;
    the console renderer adds its own colours afterwards, on a terminal only."""
    for key, value in event_dict.items():
        if isinstance(value, str) and "\x1b" in value:
            event_dict[key] = _ANSI.sub("", value)
    return event_dict


_MEMBER_IN_MESSAGE = re.compile(r"\bmember_id=([A-Za-z0-9_.-]{1,64})")


def _member_from_message(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Records of a library written as ``log.info("... member_id=%s ...", member_id)`` get the field
    too, so they land in the portal's own file and follow its text policy (our own code logs a short
    event name with ``extra={"member_id": ...}`` instead)."""
    if not event_dict.get("member_id"):
        found = _MEMBER_IN_MESSAGE.search(str(event_dict.get("event", "")))
        if found:
            event_dict["member_id"] = found.group(1)
    return event_dict


def _timestamp(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    record: logging.LogRecord | None = event_dict.get("_record")
    created = record.created if record is not None else time.time()
    event_dict["timestamp"] = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return event_dict


def _json_renderer() -> Processor:
    return structlog.processors.JSONRenderer(ensure_ascii=False, default=str)


class PortalFileHandler(logging.Handler):
    """Appends each record as a JSON line to ``<root>/<member_id or _service>/<YYYY-MM-DD>.jsonl``.

    The file is opened per record (no handle kept), so the retention purge may delete files at any
    time without losing lines written after it.
    """

    _SAFE_DIR = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root)
        self._write_lock = threading.Lock()

    def path_for(self, member_id: Any, created: float) -> Path:
        if member_id is None or member_id == "":
            folder = SERVICE_DIR
        else:
            folder = str(member_id)
            if not self._SAFE_DIR.fullmatch(folder):
                folder = "_invalid"  # never a path outside the root
        day = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")
        return self.root / folder / f"{day}.jsonl"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            try:
                member_id = json.loads(line).get("member_id")
            except ValueError:
                member_id = None
            path = self.path_for(member_id, record.created)
            with self._write_lock:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
                with path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
        except Exception:
            self.handleError(record)


_installed: list[logging.Handler] = []

# Libraries whose DEBUG/INFO records carry request URLs or bodies (OAuth query strings, prompts).
# Libraries that log request URLs (httpx: OAuth refresh GETs and webhook URLs carry secrets), bodies
# (httpcore, hpack, multipart), prompts (anthropic at DEBUG) or SQL parameters (aiosqlite,
# sqlalchemy.engine, asyncpg: raw inbox payloads): held at WARNING whatever the service's level.
# uvicorn (start/stop chatter; our own access log replaces its one), alembic (every migration step at
# each start), pymorphy3 (dictionary loading), websockets, asyncio and watchfiles are noise at INFO:
# held at WARNING too.
QUIET_LOGGERS = (
    "httpx", "httpcore", "hpack", "multipart", "anthropic", "aiosqlite", "sqlalchemy.engine", "asyncpg",
    "uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "pymorphy3", "websockets", "asyncio",
    "watchfiles",
)  # fmt: skip


def quiet_libraries(level: int = logging.WARNING) -> None:
    """Hold the libraries above at ``level`` or higher (never below WARNING)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def configure_logging(
    settings: Settings,
    *,
    text_allowed: TextAllowed | None = None,
    mask: Mask | None = None,
    stream: Any = None,
) -> None:
    """Route every log record of the process through the redaction chain (idempotent: a second call
    replaces what the first installed). ``text_allowed`` must be fast and must not block (it runs for
    each record with a ``member_id``); ``stream`` defaults to stderr."""
    default_allowed = bool(settings.log_message_text)
    redactor = Redactor(
        text_allowed=text_allowed or (lambda _member_id: default_allowed),
        default_allowed=default_allowed,
        mask=mask,
    )
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _add_extra,
        _timestamp,
    ]
    tail: list[Processor] = [
        _member_from_message,
        structlog.processors.format_exc_info,
        _strip_ansi,
        redactor,
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    ]
    out = stream if stream is not None else sys.stderr
    if settings.log_format == "json":
        renderer: Processor = _json_renderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=bool(getattr(out, "isatty", lambda: False)()))

    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()

    console = logging.StreamHandler(out)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[*tail, renderer], foreign_pre_chain=pre_chain)
    )
    _installed.append(console)
    if settings.log_dir:
        files = PortalFileHandler(settings.log_dir)
        files.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[*tail, _json_renderer()], foreign_pre_chain=pre_chain
            )
        )
        _installed.append(files)
    # The handlers of an earlier ``basicConfig`` would print records unredacted (a test runner's own
    # capturing handlers are subclasses, and stay).
    for handler in list(root.handlers):
        if type(handler) in (logging.StreamHandler, logging.FileHandler):
            root.removeHandler(handler)
    for handler in _installed:
        root.addHandler(handler)
    level = logging.getLevelName(settings.log_level.upper())
    level = level if isinstance(level, int) else logging.INFO
    root.setLevel(level)
    quiet_libraries(level)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.PositionalArgumentsFormatter(),
            _timestamp,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Remove what :func:`configure_logging` installed (tests)."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    structlog.reset_defaults()
