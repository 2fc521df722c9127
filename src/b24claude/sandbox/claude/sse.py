"""Server-sent events for `stream: true`, in the exact order of reference §2.

message_start → per block (content_block_start, deltas, content_block_stop; a ping after the first
start) → message_delta (cumulative usage) → message_stop. Every event carries an `event:` line.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WORDS_PER_CHUNK = 3
JSON_CHUNK_CHARS = 16


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any]

    @property
    def is_content_delta(self) -> bool:
        return self.name == "content_block_delta"

    def encode(self) -> bytes:
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"event: {self.name}\ndata: {payload}\n\n".encode()


def encode_error(error_type: str, message: str, request_id: str) -> bytes:
    """The mid-stream `event: error` (the HTTP status is already 200)."""
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    return Event("error", body).encode()


def text_chunks(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """A few words per delta, whitespace kept, so the chunks concatenate back to `text`."""
    pieces = re.findall(r"\s*\S+\s*", text)
    if not pieces:
        return [text] if text else []
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


def json_chunks(payload: str, size: int = JSON_CHUNK_CHARS) -> list[str]:
    """`input_json_delta` fragments; the first one is empty, as the real API often sends."""
    return [""] + [payload[i : i + size] for i in range(0, len(payload), size)]


def _shell(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": ""}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
    if kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return copy.deepcopy(block)


def _deltas(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        for chunk in text_chunks(block["text"]):
            yield {"type": "text_delta", "text": chunk}
    elif kind == "tool_use":
        for fragment in json_chunks(json.dumps(block["input"], ensure_ascii=False)):
            yield {"type": "input_json_delta", "partial_json": fragment}
    elif kind == "thinking":
        for chunk in text_chunks(block["thinking"]):
            yield {"type": "thinking_delta", "thinking": chunk}
        yield {"type": "signature_delta", "signature": block["signature"]}


def message_events(message: dict[str, Any]) -> Iterator[Event]:
    """The full event sequence for a finished Message object."""
    usage = message["usage"]
    start = copy.deepcopy(message)
    start.update(content=[], stop_reason=None, stop_sequence=None, stop_details=None)
    start["usage"] = {
        **copy.deepcopy(usage),
        "output_tokens": 1,
        "output_tokens_details": {"thinking_tokens": 0},
    }
    yield Event("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        yield Event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": _shell(block)},
        )
        if index == 0:
            yield Event("ping", {"type": "ping"})
        for delta in _deltas(block):
            yield Event(
                "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            )
        yield Event("content_block_stop", {"type": "content_block_stop", "index": index})
    final_usage = {
        key: usage.get(key)
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
            "server_tool_use",
        )
    }
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": message.get("stop_details"),
        "container": message.get("container"),
    }
    yield Event("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage})
    yield Event("message_stop", {"type": "message_stop"})
