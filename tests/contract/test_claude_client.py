"""ClaudeLLM against the Claude API emulator over loopback HTTP: the real SDK, no mocks.

Waits go through a fake clock that records each sleep and returns at once, so retry tests are fast
and can assert the exact wait our policy chose.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import pytest

from b24claude.adapters.anthropic import CallRecord, ClaudeLLM
from b24claude.adapters.anthropic.errors import retry_after_from
from b24claude.errors import (
    LLMError,
    LLMOverloaded,
    LLMRateLimited,
    LLMRequestRejected,
    LLMSpendLimitReached,
    LLMTransientError,
)
from b24claude.ports.llm import ChatTurn, LLMRequest
from b24claude.sandbox.claude.app import create_claude_app
from b24claude.sandbox.claude.state import DEFAULT_KEY, ClaudeState
from b24claude.sandbox.server import ServerHandle
from b24claude.settings import DEFAULT_PRICES

pytestmark = pytest.mark.contract

MODEL = "claude-sonnet-5-5"
MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 20.0
# ~5,000 emulator tokens: above every model's minimum cacheable prefix
LONG_SYSTEM = "You answer customers of Romashka LLC politely and briefly. " * 340


class FakeClock:
    """Time that moves only when we sleep; every sleep is recorded and returns immediately."""

    def __init__(self) -> None:
        self.t = 1_790_000_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class Harness:
    def __init__(self, state: ClaudeState, base_url: str) -> None:
        self.state = state
        self.base_url = base_url
        self.clock = FakeClock()
        self.records: list[CallRecord] = []
        self.llm = self.client()

    def client(self, *, api_key: str = DEFAULT_KEY) -> ClaudeLLM:
        async def on_call(record: CallRecord) -> None:
            self.records.append(record)

        return ClaudeLLM(
            api_key=api_key,
            base_url=self.base_url,
            default_model=MODEL,
            prices=DEFAULT_PRICES,
            timeout_s=10,
            max_attempts=MAX_ATTEMPTS,
            max_retry_after_s=MAX_RETRY_AFTER_S,
            clock=self.clock,
            on_call=on_call,
        )

    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.state.requests if r.path == "/v1/messages"]


@pytest.fixture
async def claude() -> AsyncIterator[Harness]:
    state = ClaudeState()
    async with ServerHandle(create_claude_app(state)) as server:
        harness = Harness(state, server.base_url)
        try:
            yield harness
        finally:
            await harness.llm.aclose()


def ask(text: str = "Hello! What are your opening hours?", **kwargs: Any) -> LLMRequest:
    defaults: dict[str, Any] = {"system": "You are a helpful support agent.", "max_tokens": 256}
    return LLMRequest(messages=[ChatTurn("user", text)], **{**defaults, **kwargs})


# --- plain calls ------------------------------------------------------------------------------------


async def test_plain_answer_has_text_usage_cost_and_request_id(claude: Harness) -> None:
    result = await claude.llm.complete(ask())

    assert result.text.strip()
    assert result.model == MODEL
    assert result.stop_reason == "end_turn"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.cost_usd > 0
    assert result.attempts == 1
    assert result.request_id == claude.state.requests[-1].request_id
    [record] = claude.records
    assert (record.model, record.feature, record.error_code, record.attempts) == (MODEL, "answer", None, 1)
    assert record.cost_usd == result.cost_usd
    assert claude.llm.ratelimit[MODEL].requests is not None


async def test_request_shape_version_and_no_sampling_params(claude: Harness) -> None:
    turns = [
        ChatTurn("user", "Hi"),
        ChatTurn("user", "I need a quote"),
        ChatTurn("assistant", "Sure, for what?"),
        ChatTurn("user", "For 10 chairs"),
        ChatTurn("assistant", "Let me"),  # a trailing assistant turn would be a prefill: dropped
    ]
    await claude.llm.complete(
        LLMRequest(system="Be brief.", messages=turns, max_tokens=128, metadata_user_id="u-9f2c")
    )

    [recorded] = [r for r in claude.state.requests if r.path == "/v1/messages"]
    assert recorded.headers["anthropic-version"] == "2026-10-21"
    assert recorded.headers["authorization"] == "[redacted]"  # SDK 2.x: Bearer auth
    body = recorded.body
    assert not {"temperature", "top_p", "top_k"} & body.keys()
    assert body["metadata"] == {"user_id": "u-9f2c"}
    assert body["messages"] == [
        {"role": "user", "content": "Hi\n\nI need a quote"},
        {"role": "assistant", "content": "Sure, for what?"},
        {"role": "user", "content": "For 10 chairs"},
    ]


async def test_metadata_is_sent_only_when_given(claude: Harness) -> None:
    await claude.llm.complete(ask())
    assert "metadata" not in claude.bodies()[-1]


# --- prompt caching ----------------------------------------------------------------------------------


async def test_system_prompt_carries_a_cache_breakpoint_and_is_read_back(claude: Harness) -> None:
    first = await claude.llm.complete(ask(system=LONG_SYSTEM))
    second = await claude.llm.complete(ask(system=LONG_SYSTEM))

    assert claude.bodies()[0]["system"] == [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.cost_usd < first.cost_usd


async def test_cache_breakpoint_can_be_switched_off(claude: Harness) -> None:
    result = await claude.llm.complete(ask(system=LONG_SYSTEM, cache_system=False))
    assert claude.bodies()[0]["system"] == LONG_SYSTEM
    assert result.usage.cache_creation_input_tokens == 0


# --- structured output -------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "urgent": {"type": "boolean"},
        "summary": {"type": "string"},
    },
    "required": ["sentiment", "urgent", "summary"],
    "additionalProperties": False,
}


async def test_structured_output_is_parsed(claude: Harness) -> None:
    result = await claude.llm.complete(
        ask("My order is late again, this is terrible!", json_schema=SCHEMA, feature="classify")
    )

    assert claude.bodies()[0]["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert result.parsed is not None
    assert set(result.parsed) == {"sentiment", "urgent", "summary"}
    assert result.parsed["sentiment"] in {"positive", "neutral", "negative"}
    assert isinstance(result.parsed["urgent"], bool)
    assert claude.records[-1].feature == "classify"


# --- retries -----------------------------------------------------------------------------------------


async def test_rate_limit_waits_retry_after_then_succeeds(claude: Harness) -> None:
    claude.state.rate_limit_next(retry_after=1)

    result = await claude.llm.complete(ask())

    assert result.attempts == 2
    assert claude.clock.sleeps == [1.0]
    assert [r.status for r in claude.state.requests] == [429, 200]
    assert claude.records[-1].attempts == 2


async def test_long_retry_after_is_capped(claude: Harness) -> None:
    claude.state.rate_limit_next(retry_after=90)

    result = await claude.llm.complete(ask())

    assert result.attempts == 2
    assert claude.clock.sleeps == [MAX_RETRY_AFTER_S]


async def test_rate_limit_exhausted_raises_with_retry_after(claude: Harness) -> None:
    claude.state.rate_limit_next(retry_after=90, count=MAX_ATTEMPTS)

    with pytest.raises(LLMRateLimited) as caught:
        await claude.llm.complete(ask())

    assert caught.value.retry_after == 90  # the server's own hint, for the inbox to re-schedule
    assert claude.clock.sleeps == [MAX_RETRY_AFTER_S] * (MAX_ATTEMPTS - 1)


async def test_spend_cap_is_not_retried(claude: Harness) -> None:
    claude.state.spend_cap_next()

    with pytest.raises(LLMSpendLimitReached):
        await claude.llm.complete(ask())

    assert claude.clock.sleeps == []
    assert len(claude.bodies()) == 1
    [record] = claude.records
    assert record.error_code == "spend_limit" and record.attempts == 1 and record.cost_usd == 0


async def test_overloaded_every_attempt_raises_overloaded(claude: Harness) -> None:
    claude.state.overload_next(count=MAX_ATTEMPTS)

    with pytest.raises(LLMOverloaded) as caught:
        await claude.llm.complete(ask())

    assert caught.value.retryable and caught.value.retry_after is not None
    assert len(claude.bodies()) == MAX_ATTEMPTS
    assert len(claude.clock.sleeps) == MAX_ATTEMPTS - 1
    assert all(0 < wait <= 8 for wait in claude.clock.sleeps)  # our backoff: no server hint
    assert claude.records[-1].error_code == "overloaded"
    assert claude.records[-1].attempts == MAX_ATTEMPTS


async def test_server_errors_are_retried_as_transient(claude: Harness) -> None:
    claude.state.server_error_next()
    claude.state.unavailable_next()

    result = await claude.llm.complete(ask())

    assert result.attempts == 3
    assert [r.status for r in claude.state.requests] == [500, 503, 200]


async def test_server_errors_exhausted_raise_transient(claude: Harness) -> None:
    claude.state.server_error_next(count=MAX_ATTEMPTS)
    with pytest.raises(LLMTransientError):
        await claude.llm.complete(ask())
    assert len(claude.bodies()) == MAX_ATTEMPTS


async def test_wrong_key_is_rejected_without_retry(claude: Harness) -> None:
    llm = claude.client(api_key="sk-ant-wrong")
    try:
        with pytest.raises(LLMRequestRejected) as caught:
            await llm.complete(ask("secret prompt words"))
    finally:
        await llm.aclose()

    assert "401 authentication_error" in caught.value.message
    assert "secret prompt words" not in caught.value.message
    assert len(claude.state.requests) == 1
    assert claude.clock.sleeps == []


async def test_bad_request_carries_the_api_message(claude: Harness) -> None:
    claude.state.bad_request_next("messages.0.content: field required")
    with pytest.raises(LLMRequestRejected) as caught:
        await claude.llm.complete(ask())
    assert "invalid_request_error" in caught.value.message
    assert "messages.0.content: field required" in caught.value.message
    assert claude.clock.sleeps == []


async def test_unknown_model_is_rejected(claude: Harness) -> None:
    with pytest.raises(LLMRequestRejected) as caught:
        await claude.llm.complete(ask(model="claude-3-opus-20240229"))
    assert "404 not_found_error" in caught.value.message


# --- streaming -----------------------------------------------------------------------------------------


async def test_stream_yields_the_same_text_as_complete(claude: Harness) -> None:
    claude.state.script("opening hours", "We are open from nine to six, Monday to Friday, every week.")
    whole = await claude.llm.complete(ask())

    chunks = [chunk async for chunk in claude.llm.stream(ask())]

    assert len(chunks) > 1
    assert "".join(chunks) == whole.text
    record = claude.records[-1]
    assert record.streamed and record.error_code is None and record.stop_reason == "end_turn"
    assert record.usage.output_tokens == whole.usage.output_tokens and record.cost_usd > 0
    assert claude.bodies()[-1]["stream"] is True


async def test_stream_error_before_first_delta_is_retried(claude: Harness) -> None:
    claude.state.script("opening hours", "We are open from nine to six, Monday to Friday, every week.")
    claude.state.break_stream_next(after_deltas=0, error_type="overloaded_error")

    text = "".join([chunk async for chunk in claude.llm.stream(ask())])

    assert text == "We are open from nine to six, Monday to Friday, every week."
    assert len(claude.bodies()) == 2
    assert len(claude.clock.sleeps) == 1
    assert claude.records[-1].attempts == 2


async def test_stream_error_after_text_was_yielded_raises(claude: Harness) -> None:
    claude.state.script("opening hours", "We are open from nine to six, Monday to Friday, every week.")
    claude.state.break_stream_next(after_deltas=2, error_type="overloaded_error")

    received: list[str] = []
    with pytest.raises(LLMOverloaded):
        async for chunk in claude.llm.stream(ask()):
            received.append(chunk)

    assert len(received) == 2
    assert len(claude.bodies()) == 1  # no retry once the user may have seen text
    assert claude.records[-1].error_code == "overloaded"


# --- response reading, logging -------------------------------------------------------------------------


async def test_thinking_blocks_are_not_part_of_the_text(claude: Harness) -> None:
    reply = "We are open from nine to six, Monday to Friday, every week."
    claude.state.script("opening hours", reply)
    claude.state.emit_thinking = True

    result = await claude.llm.complete(ask())
    streamed = "".join([chunk async for chunk in claude.llm.stream(ask())])

    assert result.text == reply
    assert streamed == reply


async def test_truncated_structured_output_raises_its_own_error(claude: Harness) -> None:
    with pytest.raises(LLMError) as caught:
        await claude.llm.complete(ask("My order is late!", json_schema=SCHEMA, max_tokens=3))

    assert caught.value.code == "max_tokens"
    assert not isinstance(caught.value, LLMRequestRejected)
    record = claude.records[-1]
    assert record.error_code == "max_tokens" and record.stop_reason == "max_tokens"
    assert record.usage.output_tokens > 0 and record.cost_usd > 0  # billed even though unusable


async def test_logs_carry_ids_and_tokens_never_prompt_reply_or_key(
    claude: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    claude.state.script("opening hours", "Reply words that must stay out of logs.")
    claude.state.rate_limit_next(retry_after=1)
    with caplog.at_level(logging.DEBUG, logger="b24claude.llm"):
        result = await claude.llm.complete(ask("opening hours of the Zyxwv branch?"))

    retry, done = (r for r in caplog.records if r.getMessage().startswith("claude.call."))
    assert (retry.getMessage(), done.getMessage()) == ("claude.call.retry", "claude.call.done")
    assert (retry.__dict__["status"], retry.__dict__["attempt"]) == (429, 1)
    assert result.request_id is not None and done.__dict__["request_id"] == result.request_id
    assert done.__dict__["attempts"] == 2 and done.__dict__["output_tokens"] > 0
    logged = caplog.text + repr([r.__dict__ for r in caplog.records])
    for secret in ("Zyxwv", "Reply words", DEFAULT_KEY, "helpful support agent"):
        assert secret not in logged


def test_retry_after_headers() -> None:
    now = 1_790_000_000.0
    assert retry_after_from({"retry-after-ms": "1500", "retry-after": "9"}, now=now) == 1.5
    assert retry_after_from({"retry-after": "2.5"}, now=now) == 2.5
    assert retry_after_from({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == 30
    assert retry_after_from({"retry-after": "soon"}, now=now) is None
    assert retry_after_from({}, now=now) is None
