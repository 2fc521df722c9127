"""The language-model port: what the domains ask of Claude, in our own types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class SystemBlock:
    """One part of the system prompt; ``cache`` puts a prompt-cache breakpoint after it."""

    text: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class LLMRequest:
    system: str
    messages: Sequence[ChatTurn]
    max_tokens: int
    model: str | None = None  # None: the adapter's default model for answers
    feature: str = "answer"  # ledger label: answer, classify, extract...
    json_schema: Mapping[str, Any] | None = None  # structured output when set
    cache_system: bool = True  # put a prompt-cache breakpoint after the system prompt
    metadata_user_id: str | None = None  # opaque hash, never a name or e-mail
    # Who the call is for: the ledger (usage.metered.MeteredLLM) and the portal's fair share of the
    # client-side limits towards Claude (adapters/anthropic/limits.py).
    member_id: str = ""
    dialog_key: str = ""
    inbox_id: int | None = None
    # When set, the system prompt is sent as these blocks (``system`` is then their joined text, for
    # logs and tests): stable parts first, each with its own cache breakpoint where it says so.
    system_blocks: Sequence[SystemBlock] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True, slots=True)
class LLMResult:
    text: str
    model: str
    usage: Usage
    cost_usd: float
    stop_reason: str
    request_id: str | None = None
    latency_s: float = 0.0
    attempts: int = 1
    parsed: Mapping[str, Any] | None = field(default=None)  # the JSON object when json_schema was set


class LLM(Protocol):
    async def complete(self, request: LLMRequest) -> LLMResult:
        """One model call with our retry policy; raises :class:`b24claude.errors.LLMError` subclasses."""
        ...
