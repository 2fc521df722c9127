"""``ClaudeLLM``: the :class:`b24claude.ports.llm.LLM` port over the official ``anthropic`` SDK (2.x).

One retry layer, ours: the SDK runs with ``max_retries=0`` because 2.x sleeps for any ``retry-after``
the server sends (90 s measured, reference/anthropic.md §4) and retries spend-cap 429s. We cap the
wait, refuse to retry a spend cap, and retry a mid-stream ``event: error`` that the SDK never retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types import (
    Message,
    MessageParam,
    MetadataParam,
    OutputConfigParam,
    RawContentBlockDeltaEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    TextBlockParam,
)

from b24claude.adapters.anthropic.cost import cost_usd
from b24claude.adapters.anthropic.errors import classify
from b24claude.adapters.anthropic.limits import ModelLimiter, Taken, estimate_tokens
from b24claude.errors import LLMError, LLMRequestRejected
from b24claude.kit.backoff import backoff_delay, capped_wait
from b24claude.kit.clock import Clock
from b24claude.ports.llm import ChatTurn, LLMRequest, LLMResult, SystemBlock, Usage
from b24claude.settings import ModelPrice

logger = logging.getLogger("b24claude.llm")

_RATELIMIT_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One ``complete``/``stream`` call as the usage ledger sees it: success or final failure."""

    model: str
    feature: str
    usage: Usage
    cost_usd: float
    latency_s: float
    attempts: int
    request_id: str | None
    stop_reason: str | None = None
    error_code: str | None = None  # our LLMError code; None on success
    user_id: str | None = None  # the request's opaque metadata_user_id
    streamed: bool = False


@dataclass(frozen=True, slots=True)
class RateLimitRemaining:
    """The latest ``anthropic-ratelimit-*-remaining`` values seen for one model (None: not sent)."""

    observed_at: float
    requests: int | None = None
    tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(slots=True)
class _Call:
    """What we know about a call in flight; becomes the CallRecord."""

    model: str
    request: LLMRequest
    started: float
    streamed: bool = False
    attempts: int = 0
    request_id: str | None = None
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)


class ClaudeLLM:
    """Claude with our retry policy, prompt-cache breakpoint, structured outputs and cost accounting."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        default_model: str,
        prices: Mapping[str, ModelPrice],
        timeout_s: float = 60,
        max_attempts: int = 4,
        max_retry_after_s: float = 20,
        clock: Clock,
        on_call: Callable[[CallRecord], Awaitable[None]] | None = None,
        limiter: ModelLimiter | None = None,
    ) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s
        )
        self._default_model = default_model
        self._prices = prices
        self._max_attempts = max(1, max_attempts)
        self._max_retry_after_s = max_retry_after_s
        self._clock = clock
        self._on_call = on_call
        self._limiter = limiter
        self.ratelimit: dict[str, RateLimitRemaining] = {}

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, request: LLMRequest) -> LLMResult:
        call = _Call(request.model or self._default_model, request, self._clock.monotonic())
        try:
            message = await self._create(call)
            call.usage = _usage(message)
            call.stop_reason = str(message.stop_reason or "")
            text = "".join(block.text for block in message.content if block.type == "text")
            parsed = _parse_json(text, call.stop_reason) if request.json_schema is not None else None
        except LLMError as err:
            await self._finish(call, err)
            raise
        record = await self._finish(call, None)
        return LLMResult(
            text=text,
            model=call.model,
            usage=call.usage,
            cost_usd=record.cost_usd,
            stop_reason=call.stop_reason,
            request_id=call.request_id,
            latency_s=record.latency_s,
            attempts=call.attempts,
            parsed=parsed,
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        """Text deltas as they arrive. Failures before the first delta are retried; later ones raise."""
        call = _Call(request.model or self._default_model, request, self._clock.monotonic(), streamed=True)
        error: LLMError | None = None
        try:
            kwargs = _create_kwargs(call.model, request)
            while True:
                call.attempts += 1
                started_text = False
                events: anthropic.AsyncStream[RawMessageStreamEvent] | None = None
                try:
                    await self._take(call, kwargs)
                    raw = await self._client.messages.with_raw_response.create(**kwargs, stream=True)
                    self._note_response(call, raw.headers, raw.request_id)
                    await self._observe(call, raw.headers)
                    parsed = await raw.parse()
                    if isinstance(parsed, Message):  # the server ignored stream=true
                        raise LLMError("Claude answered a stream request without streaming")
                    events = parsed
                    async for event in events:
                        delta = _absorb(call, event)
                        if delta:
                            started_text = True
                            yield delta
                    break
                except anthropic.AnthropicError as exc:
                    if started_text:
                        raise classify(exc, now=self._clock.now()).error from exc
                    if events is not None:  # release the broken connection before waiting
                        await events.close()
                        events = None
                    await self._after_failure(call, exc)
                finally:
                    if events is not None:
                        await events.close()
        except LLMError as err:
            error = err
            raise
        finally:
            await self._finish(call, error)

    # --- one request with retries --------------------------------------------------------------------

    async def _create(self, call: _Call) -> Message:
        kwargs = _create_kwargs(call.model, call.request)
        while True:
            call.attempts += 1
            taken = await self._take(call, kwargs)
            try:
                raw = await self._client.messages.with_raw_response.create(**kwargs)
            except anthropic.AnthropicError as exc:
                await self._after_failure(call, exc)
                continue
            self._note_response(call, raw.headers, raw.request_id)
            await self._observe(call, raw.headers)
            message = await raw.parse()
            if not isinstance(message, Message):
                raise LLMError("Claude streamed an answer to a non-stream request")
            if self._limiter is not None and taken is not None:
                u = _usage(message)
                await self._limiter.settle(taken, actual_tokens=u.input_tokens + u.cache_creation_input_tokens)
            return message

    async def _take(self, call: _Call, kwargs: Mapping[str, Any]) -> Taken | None:
        """One request (and its estimated input tokens) from the model's client-side budget."""
        if self._limiter is None:
            return None
        chars = len(json.dumps(kwargs.get("system", ""), ensure_ascii=False)) + len(
            json.dumps(kwargs.get("messages", []), ensure_ascii=False)
        )
        return await self._limiter.acquire(
            call.model, tokens=estimate_tokens(chars), member_id=call.request.member_id
        )

    async def _observe(self, call: _Call, headers: Mapping[str, str]) -> None:
        if self._limiter is not None:
            await self._limiter.observe(call.model, headers)

    async def _after_failure(self, call: _Call, exc: anthropic.AnthropicError) -> None:
        """Sleep before the next attempt, or raise the translated error when we must stop."""
        failure = classify(exc, now=self._clock.now())
        if isinstance(exc, anthropic.APIStatusError):
            self._note_response(call, exc.response.headers, failure.request_id)
            await self._observe(call, exc.response.headers)
            if self._limiter is not None and failure.status == 429 and failure.retry_after:
                # Every process holds back from this model until Anthropic said it may ask again.
                await self._limiter.block(call.model, self._clock.now() + failure.retry_after)
        if not failure.retryable or call.attempts >= self._max_attempts:
            if failure.retryable and failure.error.retry_after is None:
                # Tell the inbox when to re-schedule even when the server gave no hint.
                failure.error.retry_after = backoff_delay(call.attempts + 1)
            raise failure.error from exc
        wait = capped_wait(failure.retry_after, attempt=call.attempts, cap=self._max_retry_after_s)
        logger.warning(
            "claude.call.retry",
            extra={
                "model": call.model,
                "status": failure.status,
                "code": failure.error.code,
                "attempt": call.attempts,
                "max_attempts": self._max_attempts,
                "wait_s": round(wait, 2),
                "request_id": failure.request_id,
            },
        )
        await self._clock.sleep(wait)

    def _note_response(self, call: _Call, headers: Mapping[str, str], request_id: str | None) -> None:
        if request_id:
            call.request_id = request_id
        remaining: dict[str, int] = {}
        for kind in _RATELIMIT_KINDS:
            value = headers.get(f"anthropic-ratelimit-{kind}-remaining")
            if value is not None and value.strip().isdigit():
                remaining[kind.replace("-", "_")] = int(value)
        if remaining:
            self.ratelimit[call.model] = RateLimitRemaining(observed_at=self._clock.now(), **remaining)

    async def _finish(self, call: _Call, error: LLMError | None) -> CallRecord:
        latency = max(0.0, self._clock.monotonic() - call.started)
        record = CallRecord(
            model=call.model,
            feature=call.request.feature,
            usage=call.usage,
            cost_usd=cost_usd(call.model, call.usage, self._prices),
            latency_s=latency,
            attempts=call.attempts,
            request_id=call.request_id,
            stop_reason=call.stop_reason,
            error_code=error.code if error else None,
            user_id=call.request.metadata_user_id,
            streamed=call.streamed,
        )
        u = record.usage
        logger.log(
            logging.WARNING if error else logging.INFO,
            "claude.call.failed" if error else "claude.call.done",
            extra={
                "model": record.model,
                "feature": record.feature,
                "request_id": record.request_id,
                "attempts": record.attempts,
                "code": record.error_code,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_write_tokens": u.cache_creation_input_tokens,
                "cache_read_tokens": u.cache_read_input_tokens,
                "cost_usd": round(record.cost_usd, 6),
                "latency_ms": round(latency * 1000, 1),
                "stop_reason": record.stop_reason,
            },
        )
        if self._on_call is not None:
            try:
                await self._on_call(record)
            except Exception:  # the ledger must never turn an answered call into a failed one
                logger.exception("claude.on_call.failed", extra={"request_id": record.request_id})
        return record


# --- request building ---------------------------------------------------------------------------------


def _create_kwargs(model: str, request: LLMRequest) -> dict[str, Any]:
    """Keyword arguments for ``messages.create``. Never temperature/top_p/top_k: 400 under 2026-10-21."""
    messages = build_messages(request.messages)
    if not messages:
        raise LLMRequestRejected("nothing to send: the conversation has no user turn", code="empty_prompt")
    kwargs: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens, "messages": messages}
    system = (
        build_system_blocks(request.system_blocks)
        if request.system_blocks
        else build_system(request.system, cache=request.cache_system)
    )
    if system is not None:
        kwargs["system"] = system
    if request.metadata_user_id:
        metadata: MetadataParam = {"user_id": request.metadata_user_id}
        kwargs["metadata"] = metadata
    if request.json_schema is not None:
        output_config: OutputConfigParam = {
            "format": {"type": "json_schema", "schema": dict(request.json_schema)}
        }
        kwargs["output_config"] = output_config
    return kwargs


def build_system_blocks(blocks: Sequence[SystemBlock]) -> list[TextBlockParam] | None:
    """Text blocks in order, a 5-minute cache breakpoint after each block marked ``cache`` (≤ 4 in all)."""
    out: list[TextBlockParam] = []
    breakpoints = 0
    for block in blocks:
        if not block.text.strip():
            continue  # an empty text block is a 400
        param: TextBlockParam = {"type": "text", "text": block.text}
        if block.cache and breakpoints < 4:
            param["cache_control"] = {"type": "ephemeral"}
            breakpoints += 1
        out.append(param)
    return out or None


def build_system(system: str, *, cache: bool) -> list[TextBlockParam] | str | None:
    """One text block with a 5-minute cache breakpoint, so later calls read the prefix at 0.1x or less."""
    if not system.strip():
        return None  # an empty text block is a 400
    if not cache:
        return system
    return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]


def build_messages(turns: Sequence[ChatTurn]) -> list[MessageParam]:
    """Merge consecutive same-role turns; drop trailing assistant turns (5.5 models refuse prefill)."""
    merged: list[tuple[str, list[str]]] = []
    for turn in turns:
        if not turn.text.strip():
            continue  # empty content is a 400
        if merged and merged[-1][0] == turn.role:
            merged[-1][1].append(turn.text)
        else:
            merged.append((turn.role, [turn.text]))
    while merged and merged[-1][0] == "assistant":
        merged.pop()
    messages: list[MessageParam] = []
    for role, texts in merged:
        content = "\n\n".join(texts)
        messages.append(
            {"role": "user", "content": content}
            if role == "user"
            else {"role": "assistant", "content": content}
        )
    return messages


# --- response reading ---------------------------------------------------------------------------------


def _usage(message: Message) -> Usage:
    u = message.usage
    return Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
        cache_read_input_tokens=u.cache_read_input_tokens or 0,
    )


def _parse_json(text: str, stop_reason: str) -> Mapping[str, Any]:
    """The structured-output object; refusals and truncation never parse into something plausible."""
    if stop_reason == "refusal":
        raise LLMError("Claude refused to produce the structured answer", code="refusal")
    if stop_reason == "max_tokens":
        raise LLMError("structured answer cut off at max_tokens", code="max_tokens")
    try:
        value = json.loads(text)
    except ValueError:
        raise LLMError("structured answer is not valid JSON", code="invalid_json") from None
    if not isinstance(value, dict):
        raise LLMError("structured answer is not a JSON object", code="invalid_json")
    return value


def _absorb(call: _Call, event: RawMessageStreamEvent) -> str:
    """Fold one stream event into ``call`` (usage, stop reason); return its text delta, if any."""
    if isinstance(event, RawMessageStartEvent):
        call.usage = _usage(event.message)
    elif isinstance(event, RawMessageDeltaEvent):
        u = event.usage  # cumulative, not an increment (reference §2)
        call.usage = Usage(
            input_tokens=u.input_tokens if u.input_tokens is not None else call.usage.input_tokens,
            output_tokens=u.output_tokens,
            cache_creation_input_tokens=u.cache_creation_input_tokens
            if u.cache_creation_input_tokens is not None
            else call.usage.cache_creation_input_tokens,
            cache_read_input_tokens=u.cache_read_input_tokens
            if u.cache_read_input_tokens is not None
            else call.usage.cache_read_input_tokens,
        )
        call.stop_reason = event.delta.stop_reason or call.stop_reason
    elif isinstance(event, RawContentBlockDeltaEvent) and event.delta.type == "text_delta":
        return event.delta.text
    return ""
