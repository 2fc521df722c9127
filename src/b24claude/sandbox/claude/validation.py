"""Request validation with the API's error shapes and messages (reference §1.1, §1.2, §0.1, §5, §6.1).

Messages follow the real API's `path: problem` style where it is known; wording the reference does not
give is a close paraphrase. Clients must branch on status and `error.type`, never on the text.
"""

from __future__ import annotations

import re
from typing import Any

from .models import ModelSpec, find_model

VERSIONS = frozenset({"2023-06-01", "2026-10-21"})
NEW_VERSION = "2026-10-21"
SAMPLING = ("temperature", "top_p", "top_k")
MESSAGES_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "metadata",
        "stream",
        "thinking",
        "output_config",
        "output_format",
        "service_tier",
        "cache_control",
        "container",
        "inference_geo",
        "speed",
        "diagnostics",
        "fallbacks",
        "context_management",
        "mcp_servers",
    }
)
COUNT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",
        "cache_control",
        "context_management",
        "mcp_servers",
        "speed",
    }
)
BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "search_result",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "container_upload",
    }
)
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
SERVER_TOOL_TYPE = re.compile(r"^[a-z_]+_\d{8}$")
MAX_MESSAGES = 100_000
MAX_BREAKPOINTS = 4


class ApiError(Exception):
    """An error response: HTTP status, `error.type`, message and optional details / headers."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.details = details
        self.headers = headers or {}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def check_version(value: str | None) -> str:
    if not value:
        raise invalid("anthropic-version: header is required")
    if value not in VERSIONS:
        raise invalid(f"anthropic-version: '{value}' is not a valid version")
    return value


def validate_body(body: Any, *, version: str, for_count: bool = False, strict: bool = True) -> ModelSpec:
    """Check a Messages (or count_tokens) body; return the model it names or raise ApiError.

    `strict=False` tolerates unknown top-level fields (the sampling-parameter rule of 2026-10-21 stays).
    """
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object")
    if version == NEW_VERSION:
        for name in SAMPLING:
            if name in body:
                raise invalid(f"{name}: Extra inputs are not permitted")
    allowed = COUNT_FIELDS if for_count else MESSAGES_FIELDS
    for name in body:
        if strict and name not in allowed:
            raise invalid(f"{name}: Extra inputs are not permitted")
    required = ("model", "messages") if for_count else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise invalid(f"{name}: Field required")
    model_id = body["model"]
    if not isinstance(model_id, str) or not model_id:
        raise invalid("model: Input should be a valid string")
    if not for_count:
        _check_max_tokens(body["max_tokens"])
    _check_messages(body["messages"], version=version)
    _check_system(body.get("system"))
    _check_tools(body)
    _check_misc(body)
    _check_breakpoints(body)
    spec = find_model(model_id)
    if spec is None or not spec.servable:
        raise ApiError(404, "not_found_error", f"model: {model_id}")
    _check_model_rules(body, spec, version=version, for_count=for_count)
    return spec


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_max_tokens(value: Any) -> None:
    if not _is_int(value):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")


def _check_messages(messages: Any, *, version: str) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    if len(messages) > MAX_MESSAGES:
        raise invalid(f"messages: too many messages ({len(messages)} > {MAX_MESSAGES})")
    for index, message in enumerate(messages):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid(f"{path}: Input should be a valid dictionary")
        for key in message:
            if key not in {"role", "content"}:
                raise invalid(f"{path}.{key}: Extra inputs are not permitted")
        role = message.get("role")
        if role not in {"user", "assistant", "system"}:
            raise invalid(f"{path}.role: Input should be 'user', 'assistant' or 'system'")
        if "content" not in message:
            raise invalid(f"{path}.content: Field required")
        content = message["content"]
        final_assistant = role == "assistant" and index == len(messages) - 1
        if isinstance(content, str):
            if not content and not final_assistant:
                raise invalid(
                    f"{path}: all messages must have non-empty content except for the optional "
                    "final assistant message"
                )
            continue
        if not isinstance(content, list):
            raise invalid(f"{path}.content: Input should be a valid string or list of content blocks")
        if not content and not final_assistant:
            raise invalid(
                f"{path}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        for block_index, block in enumerate(content):
            _check_block(block, f"{path}.content.{block_index}", role=str(role), version=version)
    _check_tool_pairing(messages)


def _check_block(block: Any, path: str, *, role: str, version: str) -> None:
    if not isinstance(block, dict):
        raise invalid(f"{path}: Input should be a valid dictionary")
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        expected = ", ".join(f"'{name}'" for name in sorted(BLOCK_TYPES))
        raise invalid(
            f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected "
            f"tags: {expected}"
        )
    _check_cache_control(block.get("cache_control"), path)
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise invalid(f"{path}.text: Field required")
        if not block["text"]:
            raise invalid("messages: text content blocks must be non-empty")
        if version == NEW_VERSION and role == "user" and block.get("citations"):
            raise invalid(f"{path}.citations: citations are not permitted on text blocks in user messages")
    elif kind == "image" and not isinstance(block.get("source"), dict):
        raise invalid(f"{path}.source: Field required")
    elif kind == "document":
        if not isinstance(block.get("source"), dict):
            raise invalid(f"{path}.source: Field required")
        if version == NEW_VERSION and role == "assistant":
            raise invalid(f"{path}: document blocks are not permitted in assistant messages")
    elif kind == "tool_use":
        if role != "assistant":
            raise invalid(f"{path}: tool_use blocks are only permitted in assistant messages")
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise invalid(f"{path}: tool_use blocks require string 'id' and 'name'")
        if not isinstance(block.get("input"), dict):
            raise invalid(f"{path}.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if role != "user":
            raise invalid(f"{path}: tool_result blocks are only permitted in user messages")
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid(f"{path}.tool_use_id: Field required")
        if not isinstance(block.get("content", ""), str | list):
            raise invalid(f"{path}.content: Input should be a valid string or list")


def _ids(message: dict[str, Any], kind: str, key: str) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [str(b.get(key)) for b in content if isinstance(b, dict) and b.get("type") == kind]


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        if message.get("role") == "assistant" and index + 1 < len(messages):
            wanted = _ids(message, "tool_use", "id")
            following = messages[index + 1]
            answered: set[str] = set()
            if following.get("role") == "user":
                answered = set(_ids(following, "tool_result", "tool_use_id"))
            missing = [tool_id for tool_id in wanted if tool_id not in answered]
            if missing:
                raise invalid(
                    f"messages.{index + 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        if message.get("role") == "user":
            results = _ids(message, "tool_result", "tool_use_id")
            previous = messages[index - 1] if index > 0 else {}
            known = set(_ids(previous, "tool_use", "id")) if previous.get("role") == "assistant" else set()
            for tool_id in results:
                if tool_id not in known:
                    raise invalid(
                        f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{tool_id}. Each `tool_result` block must have a corresponding `tool_use` block in "
                        "the previous message."
                    )


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or list of text blocks")
    for index, block in enumerate(system):
        is_text = isinstance(block, dict) and block.get("type") == "text"
        if not is_text or not isinstance(block.get("text"), str):
            raise invalid(f"system.{index}: Input should be a text block with a string 'text'")
        _check_cache_control(block.get("cache_control"), f"system.{index}")


def _check_cache_control(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise invalid(f"{path}.cache_control.type: Input should be 'ephemeral'")
    if value.get("ttl", "5m") not in {"5m", "1h"}:
        raise invalid(f"{path}.cache_control.ttl: Input should be '5m' or '1h'")


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("tools: Input should be a valid list")
        for index, tool in enumerate(tools):
            path = f"tools.{index}"
            if not isinstance(tool, dict):
                raise invalid(f"{path}: Input should be a valid dictionary")
            kind = tool.get("type", "custom")
            if kind not in {"custom", None} and isinstance(kind, str) and SERVER_TOOL_TYPE.match(kind):
                names.append(str(tool.get("name", kind)))
                continue
            name = tool.get("name")
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                raise invalid(f"{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise invalid(
                    f"{path}.input_schema: input_schema must be a JSON Schema object with type 'object'"
                )
            _check_cache_control(tool.get("cache_control"), path)
            names.append(name)
        if len(set(names)) != len(names):
            raise invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in {"auto", "any", "tool", "none"}:
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] in {"any", "tool"} and not names:
        raise invalid("tool_choice: tool_choice may only be specified while providing tools")
    if choice["type"] == "tool":
        if not isinstance(choice.get("name"), str):
            raise invalid("tool_choice.name: Field required")
        if choice["name"] not in names:
            raise invalid(f"tool_choice.name: tool '{choice['name']}' was not found in tools")


def _check_misc(body: dict[str, Any]) -> None:
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid("stream: Input should be a valid boolean")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise invalid("metadata: Input should be a valid dictionary")
        for key, value in metadata.items():
            if key != "user_id":
                raise invalid(f"metadata.{key}: Extra inputs are not permitted")
            if value is not None and (not isinstance(value, str) or len(value) > 512):
                raise invalid("metadata.user_id: String should have at most 512 characters")
    if body.get("service_tier", "auto") not in {"auto", "standard_only"}:
        raise invalid("service_tier: Input should be 'auto' or 'standard_only'")
    if body.get("speed", "standard") not in {"standard", "fast"}:
        raise invalid("speed: Input should be 'standard' or 'fast'")
    _check_cache_control(body.get("cache_control"), "cache_control")
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, dict):
            raise invalid("output_config: Input should be a valid dictionary")
        for key in config:
            if key not in {"effort", "format"}:
                raise invalid(f"output_config.{key}: Extra inputs are not permitted")
        _check_format(config.get("format"), "output_config.format")
    _check_format(body.get("output_format"), "output_format")


def _check_format(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise invalid(f"{path}.type: Input should be 'json_schema'")
    if not isinstance(value.get("schema"), dict):
        raise invalid(f"{path}.schema: Field required")


def _check_breakpoints(body: dict[str, Any]) -> None:
    count = 1 if body.get("cache_control") else 0
    for tool in body.get("tools") or []:
        count += 1 if tool.get("cache_control") else 0
    system = body.get("system")
    for block in system if isinstance(system, list) else []:
        count += 1 if block.get("cache_control") else 0
    for message in body["messages"]:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            count += 1 if isinstance(block, dict) and block.get("cache_control") else 0
    if count > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {count}."
        )


def _check_model_rules(body: dict[str, Any], spec: ModelSpec, *, version: str, for_count: bool) -> None:
    if not for_count and body["max_tokens"] > spec.max_tokens:
        raise invalid(
            f"max_tokens: {body['max_tokens']} > {spec.max_tokens}, which is the maximum allowed "
            f"number of output tokens for {spec.id}"
        )
    if version != NEW_VERSION:
        _check_sampling(body, spec)
    messages = body["messages"]
    if any(m.get("role") == "system" for m in messages) and not spec.system_role:
        raise invalid("role 'system' is not supported on this model")
    if messages[-1].get("role") == "assistant" and not spec.prefill:
        raise invalid(
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )
    choice = body.get("tool_choice") or {}
    if choice.get("type") in {"any", "tool"} and not spec.forced_tool_choice:
        raise invalid(
            f"tool_choice: forced tool use (type '{choice['type']}') is not supported on "
            f"{spec.id}; use tool_choice 'auto' or structured outputs"
        )
    _check_thinking(body, spec, for_count=for_count)
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and effort not in spec.effort_levels:
        raise invalid(f"output_config.effort: '{effort}' is not supported on {spec.id}")


def _check_sampling(body: dict[str, Any], spec: ModelSpec) -> None:
    for name in SAMPLING:
        if name not in body:
            continue
        value = body[name]
        if not spec.sampling_params and not (name == "temperature" and value == 1):
            raise invalid(f"{name}: `{name}` is not supported on {spec.id}; omit it")
        if name == "top_k" and not (_is_int(value) and value >= 0):
            raise invalid("top_k: Input should be a non-negative integer")
        if name != "top_k" and not (isinstance(value, int | float) and 0 <= value <= 1):
            raise invalid(f"{name}: Input should be a number between 0 and 1")


def _check_thinking(body: dict[str, Any], spec: ModelSpec, *, for_count: bool) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kinds = ("adaptive", "enabled", "disabled", "between_tools")
    if not isinstance(thinking, dict) or thinking.get("type") not in kinds:
        raise invalid("thinking.type: Input should be 'adaptive', 'enabled', 'disabled' or 'between_tools'")
    if thinking["type"] not in spec.thinking_types:
        raise invalid(f"thinking.type: '{thinking['type']}' is not supported on {spec.id}")
    if thinking.get("display", "summarized") not in {"summarized", "omitted"}:
        raise invalid("thinking.display: Input should be 'summarized' or 'omitted'")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not for_count and budget >= body["max_tokens"]:
            raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
