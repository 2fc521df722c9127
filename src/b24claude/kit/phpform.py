"""PHP-style bracket form codec (``data[PARAMS][MESSAGE]=...``).

Bitrix24 posts its events as ``application/x-www-form-urlencoded`` built by PHP's
``http_build_query``: nested keys in brackets, every value a string, empty arrays dropped
(reference/bitrix24.md §2.2). ``parse`` turns the pairs back into nested dicts; ``encode`` is its
inverse and is what the sandbox portal uses to deliver events.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlencode

MAX_DEPTH = 16
MAX_FIELDS = 5000
MAX_KEY_CHARS = 512
# Bitrix24's longest values are message texts (20 000 characters); a field far beyond that is not theirs.
MAX_VALUE_CHARS = 100_000


class FormError(ValueError):
    """The body is not a well-formed PHP bracket form."""


def parse(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``[(key, value)]`` pairs by their bracket keys.

    ``a[]=x&a[]=y`` becomes a list; numeric and named keys become dict keys (strings), as PHP
    would give; a scalar and a nested value under one key is an error, as is an empty key.
    """
    root: dict[str, Any] = {}
    # Next ``a[]`` index per group (by identity, the groups live as long as this call): PHP's
    # max(integer key) + 1, kept as we go so that appending stays O(1).
    next_index: dict[int, int] = {}
    for count, (raw_key, value) in enumerate(pairs, start=1):
        if count > MAX_FIELDS:
            raise FormError(f"more than {MAX_FIELDS} fields")
        if len(raw_key) > MAX_KEY_CHARS:
            raise FormError(f"key longer than {MAX_KEY_CHARS} characters: {raw_key[:80]!r}")
        if len(value) > MAX_VALUE_CHARS:
            raise FormError(f"value of {raw_key[:80]!r} longer than {MAX_VALUE_CHARS} characters")
        if "\x00" in raw_key or "\x00" in value:
            # No Bitrix24 field holds a NUL, and PostgreSQL text/jsonb cannot store one.
            raise FormError(f"NUL character in {raw_key[:80]!r}")
        path = _cached_key_path(raw_key)
        if path is None:
            raise FormError(f"malformed key {raw_key[:80]!r}")
        if len(path) > MAX_DEPTH:
            raise FormError(f"key nested deeper than {MAX_DEPTH}: {raw_key[:80]!r}")
        _assign(root, path, value, raw_key, next_index)
    return root


@functools.lru_cache(maxsize=4096)
def _cached_key_path(raw_key: str) -> tuple[str, ...] | None:
    path = _key_path(raw_key)
    return None if path is None else tuple(path)


def _key_path(raw_key: str) -> list[str] | None:
    """``data[PARAMS][MESSAGE]`` → ``["data", "PARAMS", "MESSAGE"]``; None when malformed (a name,
    then only ``[part]`` groups, no bracket inside a part)."""
    head, bracket, rest = raw_key.partition("[")
    if not head or "]" in head:
        return None
    if not bracket:
        return [head]
    if not rest.endswith("]"):
        return None
    parts = rest[:-1].split("][")
    if any("[" in part or "]" in part for part in parts):
        return None
    return [head, *parts]


def _assign(
    node: dict[str, Any], path: Sequence[str], value: str, raw_key: str, next_index: dict[int, int]
) -> None:
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if part == "":
            if i == 0:
                raise FormError("empty key")
            # ``a[]`` appends: represent as the next integer key, like PHP does.
            part = str(next_index.get(id(node), 0))
        if part.isascii() and part.isdigit():
            next_index[id(node)] = max(next_index.get(id(node), 0), int(part) + 1)
        if last:
            if isinstance(node.get(part), dict):
                raise FormError(f"{raw_key[:80]!r} is both a value and a group")
            node[part] = value
            return
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise FormError(f"{raw_key[:80]!r} is both a value and a group")
        node = child


def parse_body(body: bytes | str) -> dict[str, Any]:
    """Parse a urlencoded body; raises :class:`FormError` on undecodable input.

    What :func:`urllib.parse.parse_qsl` gives (``keep_blank_values``, ``&`` only, strict UTF-8),
    with the keys decoded through a small cache: this runs for every event Bitrix24 posts (a bot
    event has ~100 fields whose bracket keys are the same in every event), on the acknowledgement
    path. Percent-encoded bytes that are not UTF-8 (``%FF%FE``, an encoded surrogate ``%ED%A0%80``)
    are refused exactly like the same raw bytes, never replaced by U+FFFD.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("body is not UTF-8") from exc
    if body.count("&") + 1 > MAX_FIELDS:
        raise FormError(f"more than {MAX_FIELDS} fields")
    pairs: list[tuple[str, str]] = []
    try:
        for field in body.split("&"):
            if field:
                name, _, value = field.partition("=")
                pairs.append((_decode_key(name), _decode(value)))
    except UnicodeDecodeError:
        raise FormError("body is not UTF-8 after percent-decoding") from None
    return parse(pairs)


def _decode(part: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    if "%" in part:
        part = unquote(part, encoding="utf-8", errors="strict")
    return part


@functools.lru_cache(maxsize=4096)
def _decode_key(part: str) -> str:
    # Bounded: keys a stranger invents only churn the cache.
    return _decode(part)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of :func:`parse`: nested dicts/lists to bracket pairs, PHP-style.

    Booleans become ``"1"``/``""`` like PHP's string cast would not; we follow Bitrix24 and send
    ``Y``/``N`` explicitly in the data itself, so booleans here are rendered ``"true"``/``"false"``.
    ``None`` and empty containers are dropped, as ``http_build_query`` drops empty arrays.
    """
    out: list[tuple[str, str]] = []
    for key, value in obj.items():
        full = f"{prefix}[{key}]" if prefix else str(key)
        _flatten_value(out, full, value)
    return out


def _flatten_value(out: list[tuple[str, str]], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        out.extend(flatten(value, key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _flatten_value(out, f"{key}[{i}]", item)
    elif isinstance(value, bool):
        out.append((key, "true" if value else "false"))
    else:
        out.append((key, str(value)))


def encode(obj: Mapping[str, Any]) -> str:
    """Urlencode a nested mapping the way PHP's ``http_build_query`` would."""
    return urlencode(flatten(obj))
