"""Shared plumbing of the REST emulator: the error type, the caller, list results, method tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import PortalState

JSON = dict[str, Any]
PAGE = 50


class RestError(Exception):
    """A Bitrix24 error answer: HTTP status + ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> JSON:
        return {"error": self.error, "error_description": self.description}


def bad(error: str, description: str, status: int = 400) -> RestError:
    return RestError(status, error, description)


@dataclass
class Caller:
    """Who is calling: an OAuth app user or an incoming webhook."""

    kind: str  # "oauth" | "webhook"
    user_id: int
    scopes: list[str]
    client_id: str | None = None
    webhook_code: str | None = None

    @property
    def limit_key(self) -> str:
        return self.client_id or f"webhook:{self.webhook_code}"

    @property
    def author(self) -> str:
        return self.client_id or f"webhook:{self.user_id}"


@dataclass
class Paged:
    """A list result: the envelope gets ``total``/``next`` unless paging was disabled (start=-1)."""

    result: Any
    total: int | None = None
    next: int | None = None


Handler = Callable[["PortalState", Caller, JSON], Awaitable[Any]]


@dataclass
class MethodSpec:
    name: str
    handler: Handler
    scopes: tuple[str, ...] = ()
    app_only: bool = False


@dataclass
class Registry:
    """A module's table of REST methods (names are matched case-insensitively)."""

    methods: dict[str, MethodSpec] = field(default_factory=dict)

    def add(
        self, name: str, *, scope: str | tuple[str, ...] | None = None, app_only: bool = False
    ) -> Callable[[Handler], Handler]:
        scopes = (scope,) if isinstance(scope, str) else (scope or ())

        def register(fn: Handler) -> Handler:
            self.methods[name.lower()] = MethodSpec(name, fn, scopes, app_only)
            return fn

        return register


def param(params: JSON, name: str, default: Any = None) -> Any:
    """Parameter lookup ignoring case (Bitrix accepts ``ID``/``id``, ``FIELDS``/``fields``)."""
    if name in params:
        return params[name]
    low = name.lower()
    for key, value in params.items():
        if key.lower() == low:
            return value
    return default


def as_int(value: Any, default: int = 0) -> int:
    if value is None or value == "" or isinstance(value, dict | list):
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def yes(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in ("Y", "1", "TRUE", "YES")


def as_list(value: Any) -> list[Any]:
    """PHP-form arrays arrive as ``{"0": a, "1": b}``; JSON ones as lists."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def php_array(mapping: dict[str, Any]) -> Any:
    """How PHP's json_encode renders an array: ``[]`` when empty, a list when keys are 0..n-1."""
    if not mapping:
        return []
    if list(mapping) == [str(i) for i in range(len(mapping))]:
        return list(mapping.values())
    return mapping
