"""``batch``: command encoding, chunking to ≤50, response parsing (reference/bitrix24.md §3.5).

Each sub-call is ``"method?query"`` with its params PHP-bracket encoded; sub-calls may refer to
earlier results with ``$result[key][FIELD]…``. In a JSON body the query is encoded once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from b24claude.errors import Bitrix24Error
from b24claude.kit import phpform

from .errors import map_error

MAX_BATCH = 50
# $result[key], $result_error[key], $result_total[key], $result_next[key], $result_time[key]
_REF = re.compile(r"\$result(?:_error|_total|_next|_time)?\[([^\[\]]+)\]")

Command = tuple[str, Mapping[str, Any]]


def _quote_value(value: str) -> str:
    # Keep ``$result[...]`` readable: Bitrix24 substitutes the references after parsing the query,
    # and leaving ``$[]`` unescaped in values is also what its docs' examples send.
    return quote_plus(value, safe="$[]") if _REF.search(value) else quote_plus(value)


def encode_command(method: str, params: Mapping[str, Any] | None = None) -> str:
    """``"crm.contact.get?id=5"``; nested params as PHP brackets (``filter[>ID]=10``)."""
    pairs = phpform.flatten(params or {})
    if not pairs:
        return method
    return method + "?" + "&".join(f"{quote_plus(k)}={_quote_value(v)}" for k, v in pairs)


def references(params: Mapping[str, Any] | None) -> set[str]:
    """Keys of other sub-calls that ``params`` refer to with ``$result[key]``."""
    return {m.group(1) for _, v in phpform.flatten(params or {}) for m in _REF.finditer(v)}


def prefixed(cmds: Mapping[str, Command], prefix: str) -> dict[str, Command]:
    """The same sub-calls under ``prefix + key``, their ``$result[key]`` references renamed to match
    (to run several callers' batches in one request)."""

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return _REF.sub(lambda m: m.group(0).replace(f"[{m.group(1)}]", f"[{prefix}{m.group(1)}]", 1), value)
        if isinstance(value, Mapping):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [rename(v) for v in value]
        return value

    return {f"{prefix}{key}": (method, rename(params)) for key, (method, params) in cmds.items()}


def unprefixed(batch: BatchResult, prefix: str) -> BatchResult:
    """One caller's part of a shared batch's result, under its own keys."""

    def part(section: Mapping[str, Any]) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in section.items() if k.startswith(prefix)}

    return BatchResult(
        part(batch.result), part(batch.errors), part(batch.total), part(batch.next), part(batch.time)
    )


def plan_chunks(cmds: Mapping[str, Command], size: int = MAX_BATCH) -> list[dict[str, Command]]:
    """Split into requests of ≤``size`` sub-calls, in order.

    ``$result`` references only resolve inside one request, so a reference to a key in another
    chunk (or to no key at all) is refused rather than silently sent unresolved.
    """
    if not cmds:
        return []
    keys = list(cmds)
    chunks = [keys[i : i + size] for i in range(0, len(keys), size)]
    for chunk in chunks:
        members = set(chunk)
        for key in chunk:
            missing = references(cmds[key][1]) - members
            if missing and len(chunks) > 1:
                raise ValueError(
                    f"batch of {len(cmds)} commands: {key!r} refers to {sorted(missing)} in another chunk"
                )
    return [{key: cmds[key] for key in chunk} for chunk in chunks]


def is_read_method(method: str) -> bool:
    """Methods that are safe to repeat after a 5xx or a network error (no side effects)."""
    name = method.lower()
    if name in _NOT_READS:
        return False
    return name.endswith((".get", ".list", ".fields")) or name in _READS


_READS = frozenset(
    {
        "crm.duplicate.findbycomm",
        "imopenlines.dialog.get",
        "im.dialog.messages.get",
        "imbot.v2.event.get",
        "imbot.bot.list",
        "user.current",
        "app.info",
        "profile",
        "server.time",
        "feature.get",
        # the knowledge-base sources (adapters/bitrix24/sources.py)
        "disk.storage.getlist",
        "disk.folder.getchildren",
        "landing.site.getlist",
        "landing.landing.getlist",
        "landing.block.getlist",
    }
)


# event.offline.get deletes what it returns (clear=1 by default): a ".get" that is not a read.
_NOT_READS = frozenset({"event.offline.get"})


def is_read_batch(cmds: Mapping[str, Command]) -> bool:
    return all(is_read_method(m) for m, _ in cmds.values())


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Per sub-call key: ``result``, ``errors`` (mapped exceptions), ``total``, ``next``, ``time``."""

    result: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Bitrix24Error] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    next: dict[str, int] = field(default_factory=dict)
    time: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """The sub-call's result, or raise its error (``KeyError`` if it never ran, e.g. after halt)."""
        if key in self.errors:
            raise self.errors[key]
        return self.result[key]

    def ok(self, key: str) -> bool:
        return key in self.result and key not in self.errors

    def merged(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            {**self.result, **other.result},
            {**self.errors, **other.errors},
            {**self.total, **other.total},
            {**self.next, **other.next},
            {**self.time, **other.time},
        )


def _section(value: Any) -> dict[str, Any]:
    # PHP encodes an empty array as [] and a 0..n-1 keyed one as a list.
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_batch_result(result: Any) -> BatchResult:
    """The ``result`` member of a batch response → :class:`BatchResult`."""
    body = result if isinstance(result, Mapping) else {}
    errors: dict[str, Bitrix24Error] = {}
    for key, err in _section(body.get("result_error")).items():
        if isinstance(err, Mapping):
            errors[key] = map_error(str(err.get("error") or ""), str(err.get("error_description") or ""))
        else:
            errors[key] = map_error(str(err))
    totals = {
        k: n for k, v in _section(body.get("result_total")).items() if (n := _int_or_none(v)) is not None
    }
    nexts = {k: n for k, v in _section(body.get("result_next")).items() if (n := _int_or_none(v)) is not None}
    times = {k: v for k, v in _section(body.get("result_time")).items() if isinstance(v, Mapping)}
    return BatchResult(_section(body.get("result")), errors, totals, nexts, times)
