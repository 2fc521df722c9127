"""`/_sandbox/...`: drive a separately started emulator over HTTP (the same methods tests call directly).

GET    /_sandbox/health                      {"ok": true}
GET    /_sandbox/requests?path=&limit=       recorded requests, oldest first
DELETE /_sandbox/requests                    forget them
POST   /_sandbox/reset                       requests, faults, cache, buckets, scripts, clock offset
GET    /_sandbox/faults | DELETE             the queue / clear it
POST   /_sandbox/faults                      FaultIn below (or {"preset": "spend_cap", ...})
GET    /_sandbox/config | POST (ConfigPatch) knobs: latency, keys, rate limits, naive (a foolable model)…
POST   /_sandbox/scripted {"match","reply"}  | DELETE: scripted replies
POST   /_sandbox/clock {"advance": seconds}  move the emulator clock (cache TTLs, buckets)
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

from .state import ClaudeState, Fault, RateLimits

Preset = Literal[
    "rate_limit",
    "spend_cap",
    "overloaded",
    "server_error",
    "unavailable",
    "bad_request",
    "stream_error",
    "slow",
]


class FaultIn(BaseModel):
    preset: Preset | None = None
    kind: Literal["http", "stream_error", "delay"] = "http"
    status: int = 500
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] | None = None
    should_retry: bool | None = None
    after_deltas: int = Field(default=2, ge=0)
    delay: float = Field(default=0.0, ge=0)
    model: str | None = None
    path: str | None = "/v1/messages"
    count: int = Field(default=1, ge=1)


class ConfigPatch(BaseModel):
    latency: float | None = Field(default=None, ge=0)
    stream_event_delay: float | None = Field(default=None, ge=0)
    api_keys: list[str] | None = None
    accept_any_key: bool | None = None
    enforce_rate_limits: bool | None = None
    emit_thinking: bool | None = None
    naive: bool | None = None  # obey injected instructions (a model that can be fooled)
    strict_fields: bool | None = None
    chars_per_token: float | None = Field(default=None, gt=0)
    max_body_bytes: int | None = Field(default=None, gt=0)
    requests_per_minute: int | None = Field(default=None, gt=0)
    input_tokens_per_minute: int | None = Field(default=None, gt=0)
    output_tokens_per_minute: int | None = Field(default=None, gt=0)


class ScriptIn(BaseModel):
    match: str = Field(min_length=1)
    reply: str


class ClockIn(BaseModel):
    advance: float = Field(ge=0)


def _config(state: ClaudeState) -> dict[str, Any]:
    limits = state.rate_limits
    return {
        "latency": state.latency,
        "stream_event_delay": state.stream_event_delay,
        "api_keys": sorted(state.api_keys),
        "accept_any_key": state.accept_any_key,
        "enforce_rate_limits": state.enforce_rate_limits,
        "emit_thinking": state.emit_thinking,
        "naive": state.naive,
        "strict_fields": state.strict_fields,
        "chars_per_token": state.chars_per_token,
        "max_body_bytes": state.max_body_bytes,
        "requests_per_minute": limits.requests,
        "input_tokens_per_minute": limits.input_tokens,
        "output_tokens_per_minute": limits.output_tokens,
    }


def _apply_preset(state: ClaudeState, spec: FaultIn) -> Fault:
    count, model = spec.count, spec.model
    if spec.preset == "rate_limit":
        return state.rate_limit_next(
            count=count, model=model, retry_after=spec.retry_after if spec.retry_after is not None else 1
        )
    if spec.preset == "spend_cap":
        return state.spend_cap_next(count=count, model=model)
    if spec.preset == "overloaded":
        return state.overload_next(count=count, model=model, retry_after=spec.retry_after)
    if spec.preset == "server_error":
        return state.server_error_next(count=count, model=model)
    if spec.preset == "unavailable":
        return state.unavailable_next(count=count, model=model)
    if spec.preset == "bad_request":
        return state.bad_request_next(spec.message or "Injected invalid request", count=count, model=model)
    if spec.preset == "stream_error":
        return state.break_stream_next(
            after_deltas=spec.after_deltas,
            count=count,
            model=model,
            error_type=spec.error_type or "overloaded_error",
            message=spec.message,
        )
    return state.slow_next(spec.delay, count=count, model=model, path=spec.path)


def add_control_routes(app: FastAPI, state: ClaudeState) -> None:
    """Mount the `/_sandbox` control routes for `state` on `app` (no auth: loopback test tooling)."""

    @app.get("/_sandbox/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "emulator": "claude"}

    @app.get("/_sandbox/requests")
    async def list_requests(path: str | None = None, limit: int | None = None) -> dict[str, Any]:
        found = [r.as_json() for r in state.requests if path is None or r.path == path]
        return {"data": found[-limit:] if limit else found}

    @app.delete("/_sandbox/requests")
    async def clear_requests() -> dict[str, Any]:
        state.clear_requests()
        return {"ok": True}

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"ok": True}

    @app.get("/_sandbox/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [fault.describe() for fault in state.faults]}

    @app.post("/_sandbox/faults")
    async def add_fault(spec: FaultIn) -> dict[str, Any]:
        if spec.preset is not None:
            fault = _apply_preset(state, spec)
        else:
            fields = spec.model_dump(exclude={"preset"})
            fault = state.inject(Fault(**fields))
        return {"queued": fault.describe(), "queue_length": len(state.faults)}

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> dict[str, Any]:
        state.faults.clear()
        return {"ok": True}

    @app.get("/_sandbox/config")
    async def get_config() -> dict[str, Any]:
        return _config(state)

    @app.post("/_sandbox/config")
    async def patch_config(patch: ConfigPatch) -> dict[str, Any]:
        values = patch.model_dump(exclude_none=True)
        limits = state.rate_limits
        state.rate_limits = RateLimits(
            requests=values.pop("requests_per_minute", limits.requests),
            input_tokens=values.pop("input_tokens_per_minute", limits.input_tokens),
            output_tokens=values.pop("output_tokens_per_minute", limits.output_tokens),
        )
        if "api_keys" in values:
            state.api_keys = set(values.pop("api_keys"))
        for name, value in values.items():
            setattr(state, name, value)
        state.reset_rate_limits()
        return _config(state)

    @app.post("/_sandbox/scripted")
    async def add_script(script: ScriptIn) -> dict[str, Any]:
        state.script(script.match, script.reply)
        return {"rules": len(state.scripted)}

    @app.delete("/_sandbox/scripted")
    async def clear_scripts() -> dict[str, Any]:
        state.scripted.clear()
        return {"ok": True}

    @app.post("/_sandbox/clock")
    async def advance_clock(clock: ClockIn) -> dict[str, Any]:
        state.advance(clock.advance)
        return {"now": state.now()}
