"""Reading request bodies at the edge: size-capped, strictly typed, errors our own (400/413)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from b24claude.errors import BadRequest, PayloadTooLarge
from b24claude.kit import phpform

FORM = "application/x-www-form-urlencoded"


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``max_bytes`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"body over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"body over {max_bytes} bytes")
    return bytes(body)


async def read_form(request: Request, max_bytes: int) -> dict[str, Any]:
    """A PHP-bracket form body (how Bitrix24 posts events and app frames)."""
    body = await read_body(request, max_bytes)
    if FORM not in request.headers.get("content-type", ""):
        raise BadRequest(f"expected Content-Type {FORM}")
    try:
        return phpform.parse_body(body)
    except phpform.FormError as exc:
        raise BadRequest(f"malformed form body: {exc}") from exc


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """A JSON object body."""
    body = await read_body(request, max_bytes)
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest("expected Content-Type application/json")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data
