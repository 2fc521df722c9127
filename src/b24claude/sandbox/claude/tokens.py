"""Token estimates and the prompt-cache simulation (reference §1.3 usage, §6.1, §6.2).

Tokens are estimated as ⌈characters / chars_per_token⌉ (at least 1 for non-empty text): deterministic,
roughly right for Russian and English, and cheap. The prompt is rendered in cache order
tools → system → messages as a list of segments; a segment carrying `cache_control` is a breakpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

IMAGE_TOKENS = 1_000  # a fixed charge per image: the emulator does not decode pictures
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    """⌈len(text) / chars_per_token⌉, at least 1 for non-empty text, 0 for empty."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / chars_per_token))


def canonical(value: Any) -> str:
    """Stable JSON text of a block with `cache_control` stripped (the marker is not prompt content)."""
    return json.dumps(_strip_cache_control(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def block_text(block: Any) -> str:
    """The readable text of a content block (text, tool_result, tool_use input, document text)."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return "\n".join(block_text(item) for item in content)
        return str(content)
    if kind == "tool_use":
        return f"{block.get('name', '')} {json.dumps(block.get('input', {}), ensure_ascii=False)}"
    if kind == "thinking":
        return str(block.get("thinking", ""))
    if kind == "document":
        source = block.get("source", {})
        if isinstance(source, dict) and source.get("type") == "text":
            return str(source.get("data", ""))
    return ""


@dataclass(frozen=True, slots=True)
class Segment:
    """One cacheable unit of the prompt, in render order."""

    key: str
    tokens: int
    ttl: str | None = None  # "5m" or "1h" when a cache breakpoint sits on this segment


def _ttl(block: Any) -> str | None:
    if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
        return "1h" if block["cache_control"].get("ttl") == "1h" else "5m"
    return None


def _block_tokens(block: Any, chars_per_token: float) -> int:
    if isinstance(block, dict) and block.get("type") == "image":
        return IMAGE_TOKENS
    text = block_text(block)
    if text or (isinstance(block, dict) and block.get("type") in {"text", "tool_result"}):
        return estimate_tokens(text, chars_per_token)
    return estimate_tokens(canonical(block), chars_per_token)


def render_segments(body: dict[str, Any], chars_per_token: float = 4.0) -> list[Segment]:
    """The prompt as cache segments: each tool, each system block, each message block."""
    segments: list[Segment] = []
    for tool in body.get("tools") or []:
        text = canonical(tool)
        segments.append(Segment(text, estimate_tokens(text, chars_per_token), _ttl(tool)))
    system = body.get("system")
    if isinstance(system, str) and system:
        segments.append(Segment(canonical(system), estimate_tokens(system, chars_per_token)))
    elif isinstance(system, list):
        for block in system:
            segments.append(Segment(canonical(block), _block_tokens(block, chars_per_token), _ttl(block)))
    for message in body.get("messages") or []:
        role = message.get("role", "")
        content = message.get("content", "")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            segments.append(
                Segment(role + canonical(block), _block_tokens(block, chars_per_token), _ttl(block))
            )
    auto = _ttl(body)  # top-level cache_control: a breakpoint on the last cacheable block
    if auto and segments and segments[-1].ttl is None:
        last = segments[-1]
        segments[-1] = Segment(last.key, last.tokens, auto)
    return segments


def count_input_tokens(body: dict[str, Any], chars_per_token: float = 4.0) -> int:
    """The whole prompt's size, as `count_tokens` reports it."""
    return sum(segment.tokens for segment in render_segments(body, chars_per_token))


@dataclass(slots=True)
class CacheUsage:
    """How the prompt's tokens split between uncached input, cache writes and cache reads."""

    input_tokens: int
    creation_5m: int = 0
    creation_1h: int = 0
    read: int = 0

    @property
    def creation(self) -> int:
        return self.creation_5m + self.creation_1h

    def usage_fields(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.creation,
            "cache_read_input_tokens": self.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.creation_5m,
                "ephemeral_1h_input_tokens": self.creation_1h,
            },
        }


@dataclass(slots=True)
class PromptCache:
    """Prefix hashes per model with their expiry time; a hit refreshes the TTL."""

    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (expires_at, ttl)

    def clear(self) -> None:
        self.entries.clear()

    def account(self, model: str, segments: list[Segment], *, min_tokens: int, now: float) -> CacheUsage:
        """Split the prompt into read / written / uncached tokens and update the cache."""
        total = sum(segment.tokens for segment in segments)
        running = 0
        digest = hashlib.sha256(model.encode())
        eligible: list[tuple[int, str, str]] = []  # (prefix tokens, prefix hash, ttl)
        for segment in segments:
            running += segment.tokens
            digest.update(segment.key.encode())
            digest.update(b"\x00")
            if segment.ttl and running >= min_tokens:
                eligible.append((running, digest.copy().hexdigest(), segment.ttl))
        if not eligible:
            return CacheUsage(input_tokens=total)
        for expired in [key for key, (expires, _) in self.entries.items() if expires <= now]:
            del self.entries[expired]
        usage = CacheUsage(input_tokens=0)
        hit_index = -1
        for index in range(len(eligible) - 1, -1, -1):
            prefix_tokens, key, _ = eligible[index]
            if key in self.entries:
                ttl = self.entries[key][1]
                self.entries[key] = (now + ttl, ttl)
                usage.read = prefix_tokens
                hit_index = index
                break
        covered = usage.read
        for prefix_tokens, key, ttl_name in eligible[hit_index + 1 :]:
            written = prefix_tokens - covered
            if ttl_name == "1h":
                usage.creation_1h += written
            else:
                usage.creation_5m += written
            self.entries[key] = (now + TTL_SECONDS[ttl_name], TTL_SECONDS[ttl_name])
            covered = prefix_tokens
        usage.input_tokens = total - covered
        return usage
