"""Turn the brain's decision into a Message object: blocks, stop reason, `max_tokens`, stop sequences, usage.

Thinking tokens count toward `max_tokens` (reference §1.2); a tool call that does not fit is dropped and
the turn ends with `max_tokens`, as a truncated tool call would be unusable anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from .brain import Decision
from .models import ModelSpec
from .tokens import CacheUsage, estimate_tokens


def signature_for(thinking: str) -> str:
    return base64.b64encode(hashlib.sha256(("sig:" + thinking).encode()).digest() * 2).decode()


def _apply_stop_sequences(text: str, stop_sequences: list[str]) -> tuple[str, str | None]:
    best: tuple[int, str] | None = None
    for sequence in stop_sequences:
        position = text.find(sequence) if sequence else -1
        if position >= 0 and (best is None or position < best[0]):
            best = (position, sequence)
    if best is None:
        return text, None
    return text[: best[0]], best[1]


def build_message(
    body: dict[str, Any],
    spec: ModelSpec,
    decision: Decision,
    usage: CacheUsage,
    *,
    message_id: str,
    new_tool_id: Callable[[], str],
    chars_per_token: float = 4.0,
) -> dict[str, Any]:
    """The complete `Message` JSON object for one turn."""
    budget = int(body["max_tokens"])
    content: list[dict[str, Any]] = []
    stop_reason = "end_turn"
    stop_sequence: str | None = None
    thinking_tokens = 0
    if decision.thinking is not None and budget > 0:
        thinking = decision.thinking
        thinking_tokens = min(estimate_tokens(thinking, chars_per_token), budget)
        content.append({"type": "thinking", "thinking": thinking, "signature": signature_for(thinking)})
    room = budget - thinking_tokens
    output_tokens = thinking_tokens
    if decision.tool_name is not None:
        tool_input = decision.tool_input or {}
        serialized = decision.tool_name + json.dumps(tool_input, ensure_ascii=False)
        cost = estimate_tokens(serialized, chars_per_token)
        if cost <= room:
            content.append(
                {"type": "tool_use", "id": new_tool_id(), "name": decision.tool_name, "input": tool_input}
            )
            stop_reason, output_tokens = "tool_use", output_tokens + cost
        else:
            stop_reason, output_tokens = "max_tokens", budget
    else:
        text, stop_sequence = _apply_stop_sequences(decision.text, list(body.get("stop_sequences") or []))
        if stop_sequence is not None:
            stop_reason = "stop_sequence"
        cost = estimate_tokens(text, chars_per_token)
        if cost > room:
            text = text[: max(0, int(room * chars_per_token))]
            stop_reason, stop_sequence, cost = "max_tokens", None, room
        if text:
            content.append({"type": "text", "text": text})
        output_tokens += cost
    if budget == 0:
        stop_reason, output_tokens = "max_tokens", 0
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": spec.id,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": None,
        "container": None,
        "usage": {
            **usage.usage_fields(),
            "output_tokens": output_tokens,
            "output_tokens_details": {"thinking_tokens": thinking_tokens},
            "server_tool_use": None,
            "service_tier": "standard",
            "inference_geo": None,
        },
    }
