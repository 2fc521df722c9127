"""The emulator's model table: ids, limits, capabilities, lifecycle and per-model request rules.

Values follow reference/anthropic.md §1.2, §5, §6.1, §6.4 and §7. Where the reference is silent
(release dates of older models, which models accept mid-conversation `system` turns) the values are
plausible guesses, marked so below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Lifecycle = Literal["active", "deprecated", "retired"]
ThinkingType = Literal["adaptive", "enabled", "disabled", "between_tools"]

_NEW_THINKING: frozenset[ThinkingType] = frozenset({"adaptive", "disabled"})
_OLD_THINKING: frozenset[ThinkingType] = frozenset({"adaptive", "enabled", "disabled"})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model as the emulator knows it."""

    id: str
    display_name: str
    created_at: str  # RFC 3339
    line: str
    lifecycle: Lifecycle = "active"
    max_input_tokens: int = 1_000_000
    max_tokens: int = 128_000
    aliases: tuple[str, ...] = ()
    prefill: bool = False  # a final assistant turn is accepted
    forced_tool_choice: bool = True  # tool_choice any/tool accepted
    sampling_params: bool = False  # temperature/top_p/top_k accepted under 2023-06-01
    system_role: bool = True  # role "system" inside `messages` (Opus 4.8+; guess for the rest)
    thinking_types: frozenset[ThinkingType] = _NEW_THINKING
    cache_min_tokens: int = 512
    deprecated_at: str | None = None
    retires_at: str | None = None
    effort_levels: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")

    @property
    def servable(self) -> bool:
        """Retired models stay in the catalogue but inference requests naming them fail."""
        return self.lifecycle != "retired"


def _old(**kwargs: Any) -> ModelSpec:
    """A pre-2026 model: prefill, forced tool choice, manual thinking, sampling params all accepted."""
    defaults: dict[str, Any] = {
        "prefill": True,
        "sampling_params": True,
        "system_role": False,
        "thinking_types": _OLD_THINKING,
        "effort_levels": ("low", "medium", "high"),
    }
    defaults.update(kwargs)
    return ModelSpec(**defaults)


def _retired(model_id: str, name: str, created: str, retired: str, line: str) -> ModelSpec:
    return _old(
        id=model_id,
        display_name=name,
        created_at=created,
        line=line,
        lifecycle="retired",
        max_input_tokens=200_000,
        max_tokens=8_192,
        deprecated_at=retired,
        retires_at=retired,
    )


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="claude-fable-5-2",
        display_name="Claude Fable 5.2",
        created_at="2026-11-09T00:00:00Z",
        line="fable",
        thinking_types=frozenset({"adaptive"}),
    ),
    ModelSpec(
        id="claude-haiku-5-5",
        display_name="Claude Haiku 5.5",
        created_at="2026-10-07T00:00:00Z",
        line="haiku",
    ),
    ModelSpec(
        id="claude-sonnet-5-5",
        display_name="Claude Sonnet 5.5",
        created_at="2026-09-28T00:00:00Z",
        line="sonnet",
        forced_tool_choice=False,
        thinking_types=frozenset({"adaptive", "disabled", "between_tools"}),
    ),
    ModelSpec(
        id="claude-opus-5-5",
        display_name="Claude Opus 5.5",
        created_at="2026-09-22T00:00:00Z",
        line="opus",
        forced_tool_choice=False,
        thinking_types=frozenset({"adaptive"}),
    ),
    ModelSpec(
        id="claude-fable-5-1",
        display_name="Claude Fable 5.1",
        created_at="2026-08-12T00:00:00Z",
        line="fable",
        thinking_types=frozenset({"adaptive"}),
    ),
    ModelSpec(
        id="claude-opus-5",
        display_name="Claude Opus 5",
        created_at="2026-06-24T00:00:00Z",
        line="opus",
        prefill=True,
    ),
    ModelSpec(
        id="claude-sonnet-5",
        display_name="Claude Sonnet 5",
        created_at="2026-06-24T00:00:00Z",
        line="sonnet",
        prefill=True,
        cache_min_tokens=1024,
    ),
    ModelSpec(
        id="claude-fable-5",
        display_name="Claude Fable 5",
        created_at="2026-05-20T00:00:00Z",
        line="fable",
        thinking_types=frozenset({"adaptive"}),
        cache_min_tokens=2048,
    ),
    ModelSpec(
        id="claude-opus-4-8",
        display_name="Claude Opus 4.8",
        created_at="2026-04-15T00:00:00Z",
        line="opus",
        prefill=True,
        cache_min_tokens=4096,
    ),
    ModelSpec(
        id="claude-opus-4-7",
        display_name="Claude Opus 4.7",
        created_at="2026-03-18T00:00:00Z",
        line="opus",
        prefill=True,
        system_role=False,
        cache_min_tokens=4096,
    ),
    _old(
        id="claude-opus-4-6",
        display_name="Claude Opus 4.6",
        created_at="2026-02-05T00:00:00Z",
        line="opus",
        cache_min_tokens=4096,
    ),
    _old(
        id="claude-sonnet-4-6",
        display_name="Claude Sonnet 4.6",
        created_at="2026-02-17T00:00:00Z",
        line="sonnet",
        cache_min_tokens=2048,
    ),
    _old(
        id="claude-haiku-4-5-20251001",
        display_name="Claude Haiku 4.5",
        created_at="2025-10-01T00:00:00Z",
        line="haiku",
        aliases=("claude-haiku-4-5",),
        max_input_tokens=200_000,
        max_tokens=64_000,
        cache_min_tokens=4096,
    ),
    _old(
        id="claude-opus-4-5-20251101",
        display_name="Claude Opus 4.5",
        created_at="2025-11-01T00:00:00Z",
        line="opus",
        aliases=("claude-opus-4-5",),
        lifecycle="deprecated",
        max_input_tokens=200_000,
        max_tokens=64_000,
        cache_min_tokens=4096,
        deprecated_at="2026-07-22T00:00:00Z",
        retires_at="2027-01-22T00:00:00Z",
    ),
    _old(
        id="claude-sonnet-4-5-20250929",
        display_name="Claude Sonnet 4.5",
        created_at="2025-09-29T00:00:00Z",
        line="sonnet",
        aliases=("claude-sonnet-4-5",),
        lifecycle="deprecated",
        max_input_tokens=200_000,
        max_tokens=64_000,
        cache_min_tokens=1024,
        deprecated_at="2026-05-30T00:00:00Z",
        retires_at="2026-11-30T00:00:00Z",
    ),
    _retired(
        "claude-mythos-preview",
        "Claude Mythos Preview",
        "2026-03-01T00:00:00Z",
        "2026-06-30T00:00:00Z",
        "mythos",
    ),
    _retired(
        "claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z", "2026-08-05T00:00:00Z", "opus"
    ),
    _retired(
        "claude-opus-4-20250514", "Claude Opus 4", "2025-05-14T00:00:00Z", "2026-06-15T00:00:00Z", "opus"
    ),
    _retired(
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        "2025-05-14T00:00:00Z",
        "2026-06-15T00:00:00Z",
        "sonnet",
    ),
    _retired(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        "2025-02-19T00:00:00Z",
        "2026-02-19T00:00:00Z",
        "sonnet",
    ),
    _retired(
        "claude-3-5-haiku-20241022",
        "Claude Haiku 3.5",
        "2024-10-22T00:00:00Z",
        "2026-02-19T00:00:00Z",
        "haiku",
    ),
    _retired(
        "claude-3-haiku-20240307", "Claude Haiku 3", "2024-03-07T00:00:00Z", "2026-04-20T00:00:00Z", "haiku"
    ),
    _retired(
        "claude-3-opus-20240229", "Claude Opus 3", "2024-02-29T00:00:00Z", "2026-01-05T00:00:00Z", "opus"
    ),
    _retired(
        "claude-3-5-sonnet-20241022",
        "Claude Sonnet 3.5 (new)",
        "2024-10-22T00:00:00Z",
        "2025-10-28T00:00:00Z",
        "sonnet",
    ),
    _retired(
        "claude-3-5-sonnet-20240620",
        "Claude Sonnet 3.5",
        "2024-06-20T00:00:00Z",
        "2025-10-28T00:00:00Z",
        "sonnet",
    ),
)

_BY_ID: dict[str, ModelSpec] = {}
for _spec in MODELS:
    _BY_ID[_spec.id] = _spec
    for _alias in _spec.aliases:
        _BY_ID[_alias] = _spec


def find_model(model_id: str) -> ModelSpec | None:
    """The model for an id or alias, retired ones included; None when unknown."""
    return _BY_ID.get(model_id)


def ordered_models() -> list[ModelSpec]:
    """Newest first, as `GET /v1/models` lists them."""
    return sorted(MODELS, key=lambda spec: (spec.created_at, spec.id), reverse=True)


def _support(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def capabilities(spec: ModelSpec) -> dict[str, Any]:
    """The `capabilities` object with every key SDK 2.14's ModelCapabilities requires."""
    thinking = spec.thinking_types
    levels = set(spec.effort_levels)
    return {
        "batch": _support(True),
        "citations": _support(True),
        "code_execution": _support(spec.line != "haiku"),
        "context_management": {
            "supported": True,
            "clear_thinking_20251015": _support(True),
            "clear_tool_uses_20250919": _support(True),
            "compact_20260112": _support(spec.system_role),
        },
        "effort": {
            "supported": True,
            "low": _support("low" in levels),
            "medium": _support("medium" in levels),
            "high": _support("high" in levels),
            "xhigh": _support("xhigh" in levels),
            "max": _support("max" in levels),
        },
        "image_input": _support(True),
        "pdf_input": _support(True),
        "server_tools": {
            "supported": True,
            "code_execution": _support(True),
            "web_search": _support(True),
        },
        "structured_outputs": _support(True),
        "thinking": {
            "supported": True,
            "types": {
                name: _support(name in thinking)
                for name in ("adaptive", "enabled", "disabled", "between_tools")
            },
        },
    }


def model_info(spec: ModelSpec) -> dict[str, Any]:
    """The `ModelInfo` JSON object (reference §6.4)."""
    return {
        "type": "model",
        "id": spec.id,
        "display_name": spec.display_name,
        "created_at": spec.created_at,
        "lifecycle": spec.lifecycle,
        "line": spec.line,
        "max_input_tokens": spec.max_input_tokens,
        "max_tokens": spec.max_tokens,
        "capabilities": capabilities(spec),
        "deprecated_at": spec.deprecated_at,
        "retires_at": spec.retires_at,
    }
