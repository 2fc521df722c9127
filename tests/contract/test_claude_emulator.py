"""The Claude API emulator held to reference/anthropic.md, driven by the official SDK over loopback HTTP.

No mocks: every test starts the emulator on a real port and talks to it with `anthropic.AsyncAnthropic`
(or the sync client, or raw httpx where the SDK cannot express the request). Time that matters (cache
TTLs, rate-limit refill) comes from a fake clock, so nothing sleeps for long.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anthropic
import httpx
import pytest

from b24claude.sandbox.claude import ClaudeState, create_claude_app
from b24claude.sandbox.claude.tokens import estimate_tokens
from b24claude.sandbox.server import ServerHandle

pytestmark = pytest.mark.contract

KEY = "sk-ant-sandbox"
SONNET = "claude-sonnet-5-5"
HAIKU_OLD = "claude-haiku-4-5"
SYSTEM = """<persona>Ты — Алиса, ассистент компании «Ромашка».</persona>
<client>
Имя: Анна Смирнова
Компания: ООО «Ромашка»
Сделки: «Поставка кофемашин» — стадия «Переговоры», 120000 RUB
</client>
<knowledge>
<passage id="kb-12" title="Доставка">Доставка по Москве занимает 1–2 дня. Стоимость доставки 500 рублей, \
при заказе от 10000 рублей бесплатно. Самовывоз возможен со склада.</passage>
<passage id="kb-7" title="Оплата">Оплатить можно картой или по счёту. \
Счёт действует 5 банковских дней.</passage>
</knowledge>
<language>ru</language>"""
LONG_TEXT = "Компания «Ромашка» продаёт кофемашины и обслуживает их по всей России. " * 40  # ≈ 700 tokens


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def __call__(self) -> float:
        return self.t


class Emulator:
    def __init__(self, state: ClaudeState, clock: FakeClock, base_url: str) -> None:
        self.state = state
        self.clock = clock
        self.base_url = base_url
        self.client = anthropic.AsyncAnthropic(api_key=KEY, base_url=base_url, max_retries=0)

    def raw(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10)

    async def ask(self, text: str, **kwargs: Any) -> anthropic.types.Message:
        params: dict[str, Any] = {"model": SONNET, "max_tokens": 1000, "system": SYSTEM}
        params.update(kwargs)
        return await self.client.messages.create(messages=[{"role": "user", "content": text}], **params)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    clock = FakeClock()
    state = ClaudeState(clock=clock)
    async with ServerHandle(create_claude_app(state)) as server:
        emulator = Emulator(state, clock, server.base_url)
        yield emulator
        await emulator.client.close()


def _text(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
BODY = {"model": SONNET, "max_tokens": 100, "messages": [{"role": "user", "content": "Привет"}]}


# --- plain create, headers, recording ------------------------------------------------------------------


async def test_create_returns_a_full_message_with_request_id_and_usage(emu: Emulator) -> None:
    message = await emu.ask("Сколько стоит доставка?")
    assert message.id.startswith("msg_01") and message.type == "message" and message.role == "assistant"
    assert message.model == SONNET and message.stop_reason == "end_turn"
    assert message._request_id is not None and message._request_id.startswith("req_")
    assert message.usage.input_tokens > 50 and message.usage.output_tokens == estimate_tokens(_text(message))
    assert message.usage.cache_creation_input_tokens == 0 and message.usage.cache_read_input_tokens == 0
    recorded = emu.state.requests[-1]
    assert recorded.path == "/v1/messages" and recorded.status == 200
    assert recorded.request_id == message._request_id
    assert recorded.body["model"] == SONNET and recorded.headers["authorization"] == "[redacted]"
    assert recorded.headers["anthropic-version"] == "2026-10-21"


async def test_every_response_carries_request_id_organization_and_rate_limit_headers(emu: Emulator) -> None:
    raw = await emu.client.messages.with_raw_response.create(
        model=SONNET, max_tokens=50, messages=[{"role": "user", "content": "Привет"}]
    )
    headers = raw.headers
    assert headers["request-id"].startswith("req_") and headers["anthropic-organization-id"]
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert int(headers[f"anthropic-ratelimit-{kind}-limit"]) > 0
        assert int(headers[f"anthropic-ratelimit-{kind}-remaining"]) >= 0
        datetime.fromisoformat(headers[f"anthropic-ratelimit-{kind}-reset"].replace("Z", "+00:00"))
    first = int(headers["anthropic-ratelimit-requests-remaining"])
    again = await emu.client.messages.with_raw_response.create(
        model=SONNET, max_tokens=50, messages=[{"role": "user", "content": "Привет"}]
    )
    assert int(again.headers["anthropic-ratelimit-requests-remaining"]) == first - 1
    with pytest.raises(anthropic.NotFoundError) as caught:
        await emu.ask("x", model="claude-nope")
    assert caught.value.response.headers["request-id"] == caught.value.body["request_id"]
    assert set(caught.value.body) == {"type", "error", "request_id"}


async def test_sync_client_works_too(emu: Emulator) -> None:
    def call() -> anthropic.types.Message:
        with anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0) as client:
            return client.messages.create(
                model=HAIKU_OLD, max_tokens=200, messages=[{"role": "user", "content": "Hello there!"}]
            )

    message = await asyncio.to_thread(call)
    assert message.model == "claude-haiku-4-5-20251001"
    assert _text(message).startswith("Hello!")


# --- streaming --------------------------------------------------------------------------------------

DELIVERY_QUESTION: Any = [{"role": "user", "content": "Сколько стоит доставка?"}]


async def test_stream_helper_text_and_final_message(emu: Emulator) -> None:
    async with emu.client.messages.stream(
        model=SONNET, max_tokens=1000, system=SYSTEM, messages=DELIVERY_QUESTION
    ) as s:
        chunks = [chunk async for chunk in s.text_stream]
        final = await s.get_final_message()
    assert len(chunks) > 3 and "".join(chunks) == _text(final)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == estimate_tokens(_text(final))
    assert final.usage.input_tokens > 50


async def test_raw_event_order_ping_and_cumulative_usage(emu: Emulator) -> None:
    stream = await emu.client.messages.create(
        model=SONNET,
        max_tokens=1000,
        system=SYSTEM,
        stream=True,
        messages=[{"role": "user", "content": "Как оплатить?"}],
    )
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[1] == "content_block_start"
    assert kinds[-2:] == ["message_delta", "message_stop"] and kinds[-3] == "content_block_stop"
    assert set(kinds[2:-3]) == {"content_block_delta"} and len(kinds[2:-3]) >= 3
    start, delta = events[0], events[-2]
    assert start.type == "message_start" and start.message.usage.output_tokens == 1
    assert start.message.content == [] and start.message.stop_reason is None
    text = "".join(
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert delta.type == "message_delta" and delta.usage.output_tokens == estimate_tokens(text) > 1
    assert delta.usage.input_tokens == start.message.usage.input_tokens
    async with emu.raw() as http:
        response = await http.post(
            "/v1/messages", json={**BODY, "stream": True}, headers={**HEADERS, "x-api-key": KEY}
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in response.text.split("\n\n") if frame.strip()]
    names = [frame.split("\n")[0] for frame in frames]
    assert all(name.startswith("event: ") for name in names)
    assert names[:3] == ["event: message_start", "event: content_block_start", "event: ping"]


async def test_streamed_tool_use_sends_input_json_deltas(emu: Emulator) -> None:
    tools = [
        {
            "name": "create_lead",
            "description": "Создать лид",
            "input_schema": {"type": "object", "properties": {"phone": {"type": "string"}}},
        }
    ]
    stream = await emu.client.messages.create(
        model=HAIKU_OLD,
        max_tokens=500,
        tools=tools,
        tool_choice={"type": "any"},
        stream=True,
        messages=[{"role": "user", "content": "Мой телефон +7 912 345-67-89"}],
    )
    events = [event async for event in stream]
    fragments = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert fragments[0] == "" and json.loads("".join(fragments)) == {"phone": "+7 912 345-67-89"}
    assert events[1].type == "content_block_start" and events[1].content_block.type == "tool_use"
    assert events[-2].type == "message_delta" and events[-2].delta.stop_reason == "tool_use"


async def test_mid_stream_error_raises_status_200_overloaded(emu: Emulator) -> None:
    emu.state.break_stream_next(after_deltas=2)
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with emu.client.messages.stream(
            model=SONNET, max_tokens=1000, system=SYSTEM, messages=DELIVERY_QUESTION
        ) as s:
            async for chunk in s.text_stream:
                received.append(chunk)
    error = caught.value
    assert not isinstance(error, anthropic.OverloadedError)
    assert error.status_code == 200 and error.body["error"]["type"] == "overloaded_error"
    assert len(received) == 2 and emu.state.faults == []


# --- errors and fault injection ---------------------------------------------------------------------


async def test_rate_limit_with_retry_after(emu: Emulator) -> None:
    emu.state.rate_limit_next(retry_after=1)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await emu.ask("Привет")
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.body["request_id"] == caught.value.request_id
    assert (await emu.ask("Привет")).stop_reason == "end_turn"  # one fault, one response


async def test_spend_cap_429_has_error_code_and_no_retry_after(emu: Emulator) -> None:
    emu.state.spend_cap_next()
    with pytest.raises(anthropic.RateLimitError) as caught:
        await emu.ask("Привет")
    assert "retry-after" not in caught.value.response.headers
    assert caught.value.error_code == "enforced_spend_limit_reached"
    assert caught.value.body["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}


@pytest.mark.parametrize(
    ("status", "exc_type", "error_type"),
    [
        (529, anthropic.OverloadedError, "overloaded_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.ServiceUnavailableError, "api_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
    ],
)
async def test_injected_status_errors(
    emu: Emulator, status: int, exc_type: type[Exception], error_type: str
) -> None:
    emu.state.fail_next(status)
    with pytest.raises(exc_type) as caught:
        await emu.ask("Привет")
    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == status and caught.value.body["error"]["type"] == error_type


async def test_faults_scoped_by_model_and_counted(emu: Emulator) -> None:
    emu.state.overload_next(count=2, model=HAIKU_OLD)
    assert (await emu.ask("Привет")).stop_reason == "end_turn"  # Sonnet: unaffected
    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError):
            await emu.ask("Привет", model=HAIKU_OLD)
    assert (await emu.ask("Привет", model=HAIKU_OLD)).stop_reason == "end_turn"


async def test_slow_fault_trips_the_client_timeout(emu: Emulator) -> None:
    emu.state.slow_next(0.5)
    with pytest.raises(anthropic.APITimeoutError):
        await emu.client.with_options(timeout=0.1).messages.create(
            model=SONNET, max_tokens=50, messages=[{"role": "user", "content": "Привет"}]
        )


async def test_faults_and_inspection_over_http(emu: Emulator) -> None:
    async with emu.raw() as http:
        queued = await http.post("/_sandbox/faults", json={"preset": "overloaded"})
        assert queued.status_code == 200 and queued.json()["queue_length"] == 1
        with pytest.raises(anthropic.OverloadedError):
            await emu.ask("Привет")
        await http.post("/_sandbox/faults", json={"status": 429, "retry_after": 0})
        with pytest.raises(anthropic.RateLimitError) as caught:
            await emu.ask("Привет")
        assert caught.value.response.headers["retry-after"] == "0"
        await http.post("/_sandbox/scripted", json={"match": "пароль", "reply": "Секретный ответ."})
        assert _text(await emu.ask("Какой пароль?")) == "Секретный ответ."
        listed = (await http.get("/_sandbox/requests", params={"path": "/v1/messages"})).json()["data"]
        assert [r["status"] for r in listed] == [529, 429, 200]
        assert listed[0]["body"]["model"] == SONNET and listed[0]["headers"]["authorization"] == "[redacted]"
        config = (await http.post("/_sandbox/config", json={"accept_any_key": True})).json()
        assert config["accept_any_key"] is True
        assert (await http.post("/_sandbox/reset")).json() == {"ok": True}
        assert (await http.get("/_sandbox/requests")).json()["data"] == []
    assert emu.state.scripted == [] and emu.state.faults == []


# --- auth and versions ------------------------------------------------------------------------------


async def test_wrong_key_is_authentication_error(emu: Emulator) -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-wrong", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await client.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    await client.close()
    assert caught.value.body["error"]["type"] == "authentication_error"


async def test_both_auth_headers_are_accepted(emu: Emulator) -> None:
    assert (await emu.ask("Привет")).content  # the SDK sends Authorization: Bearer
    assert emu.state.requests[-1].headers["authorization"] == "[redacted]"
    async with emu.raw() as http:
        ok = await http.post("/v1/messages", json=BODY, headers={**HEADERS, "x-api-key": KEY})
        bad = await http.post("/v1/messages", json=BODY, headers={**HEADERS, "x-api-key": "nope"})
        missing = await http.post("/v1/messages", json=BODY, headers=HEADERS)
    assert ok.status_code == 200 and ok.json()["type"] == "message"
    assert emu.state.requests[-3].headers["x-api-key"] == "[redacted]"
    for response in (bad, missing):
        body = response.json()
        assert response.status_code == 401 and body["error"]["type"] == "authentication_error"
        assert body["request_id"] == response.headers["request-id"]
    emu.state.accept_any_key = True
    anyone = anthropic.AsyncAnthropic(api_key="anything", base_url=emu.base_url, max_retries=0)
    assert (
        await anyone.messages.create(model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    ).content is not None
    await anyone.close()


async def test_anthropic_version_is_required_and_checked(emu: Emulator) -> None:
    async with emu.raw() as http:
        auth = {"x-api-key": KEY, "content-type": "application/json"}
        missing = await http.post("/v1/messages", json=BODY, headers=auth)
        unknown = await http.post(
            "/v1/messages", json=BODY, headers={**auth, "anthropic-version": "2024-01-01"}
        )
        old = await http.post(
            "/v1/messages?beta=true", json=BODY, headers={**auth, "anthropic-version": "2023-06-01"}
        )
    assert missing.status_code == 400 and unknown.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert old.status_code == 200


async def test_sampling_params_rejected_under_2026_10_21(emu: Emulator) -> None:
    for name, value in (("temperature", 1.0), ("top_k", 5)):
        with pytest.raises(anthropic.BadRequestError) as caught:
            await emu.ask("Привет", extra_body={name: value})
        assert caught.value.body["error"]["message"] == f"{name}: Extra inputs are not permitted"


async def test_sampling_params_under_2023_06_01_depend_on_model(emu: Emulator) -> None:
    async with emu.raw() as http:
        headers = {**HEADERS, "x-api-key": KEY}
        older = await http.post(
            "/v1/messages", json={**BODY, "model": HAIKU_OLD, "temperature": 0.2}, headers=headers
        )
        newer = await http.post("/v1/messages", json={**BODY, "temperature": 0.2}, headers=headers)
    assert older.status_code == 200
    assert newer.status_code == 400 and newer.json()["error"]["message"].startswith("temperature:")


# --- validation and per-model rules ----------------------------------------------------------------


async def test_unknown_and_retired_models_are_not_found(emu: Emulator) -> None:
    for model in ("claude-nope", "claude-3-5-sonnet-20241022"):
        with pytest.raises(anthropic.NotFoundError) as caught:
            await emu.ask("Привет", model=model)
        assert caught.value.body["error"] == {"type": "not_found_error", "message": f"model: {model}"}


async def test_prefill_refused_on_5_5_models_and_continued_on_older(emu: Emulator) -> None:
    turns: Any = [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hello"}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await emu.client.messages.create(model=SONNET, max_tokens=100, messages=turns)
    assert "prefill" in caught.value.body["error"]["message"]
    message = await emu.client.messages.create(model=HAIKU_OLD, max_tokens=100, messages=turns)
    assert _text(message).startswith("!")  # continues "Hello" → "Hello! How can I help you?"


async def test_forced_tool_choice_refused_on_sonnet_and_opus_5_5(emu: Emulator) -> None:
    tools: Any = [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}]
    for model in (SONNET, "claude-opus-5-5"):
        for choice in ({"type": "any"}, {"type": "tool", "name": "lookup"}):
            with pytest.raises(anthropic.BadRequestError) as caught:
                await emu.ask("Привет", model=model, tools=tools, tool_choice=choice)
            assert caught.value.body["error"]["message"].startswith("tool_choice:")
    message = await emu.ask("Привет", model="claude-haiku-5-5", tools=tools, tool_choice={"type": "any"})
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role: Input should be"),
        (
            {"messages": [{"role": "user", "content": [{"type": "txt", "text": "x"}]}]},
            "messages.0.content.0:",
        ),
        ({"max_tokens": 999_999}, "max_tokens: 999999 > 128000"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "ok"}],
                    }
                ]
            },
            "unexpected `tool_use_id`",
        ),
    ],
)
async def test_invalid_bodies_get_clear_400s(emu: Emulator, change: dict[str, Any], expected: str) -> None:
    body = {**BODY, **change}
    body = {k: v for k, v in body.items() if v is not None}
    async with emu.raw() as http:
        response = await http.post("/v1/messages", json=body, headers={**HEADERS, "x-api-key": KEY})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and expected in error["message"]


async def test_oversized_body_is_413(emu: Emulator) -> None:
    emu.state.max_body_bytes = 10_000
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        await emu.ask("я" * 20_000)
    assert caught.value.status_code == 413 and caught.value.body["error"]["type"] == "request_too_large"


# --- count_tokens and models ---------------------------------------------------------------------------


async def test_count_tokens_matches_the_prompt_size(emu: Emulator) -> None:
    counted = await emu.client.messages.count_tokens(
        model=SONNET, system=SYSTEM, messages=[{"role": "user", "content": "Сколько стоит доставка?"}]
    )
    message = await emu.ask("Сколько стоит доставка?")
    assert counted.input_tokens == message.usage.input_tokens
    assert counted.input_tokens == estimate_tokens(SYSTEM) + estimate_tokens("Сколько стоит доставка?")


async def test_models_list_and_retrieve_in_strict_mode(emu: Emulator) -> None:
    strict = anthropic.AsyncAnthropic(
        api_key=KEY, base_url=emu.base_url, max_retries=0, _strict_response_validation=True
    )
    page = await strict.models.list(limit=3)
    ids = [model.id for model in page.data]
    assert ids[0] == "claude-fable-5-2" and len(ids) == 3 and page.has_more
    assert all(model.lifecycle in {"active", "deprecated"} and model.capabilities for model in page.data)
    following = await strict.models.list(limit=3, after_id=page.last_id)
    assert following.data[0].id not in ids
    everything = [model.id async for model in strict.models.list(limit=5)]
    assert SONNET in everything and "claude-3-opus-20240229" not in everything
    retired = await strict.models.list(lifecycle=["retired"], limit=100)
    assert retired.data and all(model.lifecycle == "retired" for model in retired.data)
    alias = await strict.models.retrieve("claude-haiku-4-5")
    assert alias.id == "claude-haiku-4-5-20251001" and alias.max_tokens == 64_000
    sonnet = await strict.models.retrieve(SONNET)
    assert sonnet.capabilities is not None and sonnet.capabilities.structured_outputs.supported
    with pytest.raises(anthropic.NotFoundError):
        await strict.models.retrieve("claude-nope")
    strict_message = await strict.messages.create(
        model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "Привет"}]
    )
    assert strict_message.content
    await strict.close()


# --- structured outputs and tools -------------------------------------------------------------------

LEAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "phone": {"type": "string"},
        "email": {"type": "string"},
        "summary": {"type": "string"},
        "intent": {"type": "string", "enum": ["question", "delivery", "complaint"]},
        "budget": {"type": "number"},
        "urgent": {"type": "boolean"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
                "required": ["sku"],
                "additionalProperties": False,
            },
        },
        "meta": {
            "type": "object",
            "properties": {
                "source": {"const": "chat"},
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
            },
            "required": ["source", "score"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "phone", "email", "summary", "intent", "budget", "urgent", "items", "meta"],
    "additionalProperties": False,
}


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    """A minimal JSON-Schema check for the subset used here."""
    if "const" in schema:
        return bool(value == schema["const"])
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        if not isinstance(value, dict) or any(k not in value for k in schema.get("required", [])):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(props):
            return False
        return all(_valid(value[k], props[k]) for k in value if k in props)
    if kind == "array":
        return isinstance(value, list) and all(_valid(item, schema["items"]) for item in value)
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and schema.get("minimum", value) <= value <= schema.get("maximum", value)
    checks = {"string": str, "number": int | float, "boolean": bool}
    return isinstance(value, checks[str(kind)])


async def test_structured_output_is_schema_valid_json_drawn_from_the_text(emu: Emulator) -> None:
    text = (
        "Здравствуйте, меня зовут Пётр Иванов, телефон +7 912 345-67-89, почта petr@example.ru. "
        "Когда будет доставка? Бюджет 250 000 рублей."
    )
    message = await emu.client.messages.create(
        model=SONNET,
        max_tokens=1000,
        messages=[{"role": "user", "content": text}],
        output_config={"format": {"type": "json_schema", "schema": LEAD_SCHEMA}},
    )
    data = json.loads(_text(message))
    assert _valid(data, LEAD_SCHEMA), data
    assert data["name"] == "Пётр Иванов" and data["phone"] == "+7 912 345-67-89"
    assert data["email"] == "petr@example.ru" and data["intent"] == "delivery" and data["budget"] == 250_000
    assert "доставка" in data["summary"] and data["meta"]["source"] == "chat"


async def test_tool_use_auto_forced_and_tool_result_round_trip(emu: Emulator) -> None:
    tools: Any = [
        {
            "name": "get_weather",
            "description": "Погода в городе",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {
            "name": "deal_status",
            "description": "Статус сделки клиента в CRM",
            "input_schema": {
                "type": "object",
                "properties": {"deal_id": {"type": "integer"}},
                "required": ["deal_id"],
            },
        },
    ]
    plain = await emu.ask("Сколько стоит доставка?", tools=tools)
    assert plain.stop_reason == "end_turn" and "[kb-12]" in _text(plain)
    called = await emu.ask("Какой статус сделки?", tools=tools)
    [tool_use] = [b for b in called.content if b.type == "tool_use"]
    assert called.stop_reason == "tool_use" and tool_use.name == "deal_status"
    assert tool_use.id.startswith("toolu_01") and isinstance(tool_use.input["deal_id"], int)
    forced = await emu.ask(
        "Привет", model=HAIKU_OLD, tools=tools, tool_choice={"type": "tool", "name": "get_weather"}
    )
    assert [b.name for b in forced.content if b.type == "tool_use"] == ["get_weather"]
    follow_up = await emu.client.messages.create(
        model=SONNET,
        max_tokens=500,
        tools=tools,
        system=SYSTEM,
        messages=[
            {"role": "user", "content": "Какой статус сделки?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in called.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_use.id,
                        "content": "Сделка 42: стадия «Счёт выставлен»",
                    }
                ],
            },
        ],
    )
    assert follow_up.stop_reason == "end_turn" and "Счёт выставлен" in _text(follow_up)


# --- prompt caching -----------------------------------------------------------------------------------


def _cached_system(ttl: str | None = None) -> Any:
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": LONG_TEXT, "cache_control": control}]


async def test_prompt_cache_creation_then_read_then_expiry(emu: Emulator) -> None:
    prefix = estimate_tokens(LONG_TEXT)
    assert 512 <= prefix < 4096
    first = await emu.ask("Сколько стоит доставка?", system=_cached_system())
    assert first.usage.cache_creation_input_tokens == prefix and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == prefix
    assert first.usage.input_tokens == estimate_tokens("Сколько стоит доставка?")
    second = await emu.ask("Как оплатить?", system=_cached_system())
    assert second.usage.cache_read_input_tokens == prefix and second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == estimate_tokens("Как оплатить?")
    emu.clock.t += 301  # past the 5-minute TTL
    third = await emu.ask("Как оплатить?", system=_cached_system())
    assert third.usage.cache_creation_input_tokens == prefix and third.usage.cache_read_input_tokens == 0
    other_model = await emu.ask("Как оплатить?", system=_cached_system(), model="claude-opus-5-5")
    assert other_model.usage.cache_creation_input_tokens == prefix  # caches are per model


async def test_prompt_cache_one_hour_ttl_and_minimum_size(emu: Emulator) -> None:
    first = await emu.ask("Привет", system=_cached_system("1h"))
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == estimate_tokens(LONG_TEXT)
    emu.clock.t += 1800
    assert (await emu.ask("Привет", system=_cached_system("1h"))).usage.cache_read_input_tokens > 0
    small = await emu.ask("Привет", model=HAIKU_OLD, system=_cached_system())  # below Haiku 4.5's 4096
    assert small.usage.cache_creation_input_tokens == 0 and small.usage.cache_read_input_tokens == 0
    assert small.usage.input_tokens == estimate_tokens(LONG_TEXT) + estimate_tokens("Привет")


async def test_prompt_cache_breakpoints_on_tools_and_messages(emu: Emulator) -> None:
    tools: Any = [
        {
            "name": "kb_search",
            "description": LONG_TEXT,
            "cache_control": {"type": "ephemeral"},
            "input_schema": {"type": "object", "properties": {}},
        }
    ]
    history: Any = [
        {
            "role": "user",
            "content": [{"type": "text", "text": LONG_TEXT, "cache_control": {"type": "ephemeral"}}],
        }
    ]
    first = await emu.client.messages.create(
        model=SONNET, max_tokens=200, tools=tools, messages=history, tool_choice={"type": "none"}
    )
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.input_tokens == 0
    history.append({"role": "assistant", "content": _text(first)})
    history.append({"role": "user", "content": "Спасибо!"})
    second = await emu.client.messages.create(
        model=SONNET, max_tokens=200, tools=tools, messages=history, tool_choice={"type": "none"}
    )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.input_tokens == estimate_tokens(_text(first)) + estimate_tokens("Спасибо!")


# --- the brain ------------------------------------------------------------------------------------------


async def test_brain_greets_by_name_and_answers_from_a_passage(emu: Emulator) -> None:
    answer = _text(await emu.ask("Подскажите, сколько стоит доставка?"))
    assert answer.startswith("Здравствуйте, Анна!")
    assert "Стоимость доставки 500 рублей" in answer and "[kb-12]" in answer and "[kb-7]" not in answer
    later = await emu.client.messages.create(
        model=SONNET,
        max_tokens=500,
        system=SYSTEM,
        messages=[
            {"role": "user", "content": "Добрый день"},
            {"role": "assistant", "content": "Здравствуйте, Анна! Чем могу помочь?"},
            {"role": "user", "content": "А как можно оплатить доставку?"},
        ],
    )
    assert "Анна" not in _text(later) and "[kb-7]" in _text(later)


async def test_brain_mentions_the_deal_and_falls_back_honestly(emu: Emulator) -> None:
    deal = _text(await emu.ask("Какой статус моего заказа?"))
    assert "«Поставка кофемашин» — стадия «Переговоры»" in deal
    unknown = _text(await emu.ask("Вы ремонтируете холодильники?"))
    assert "Уточню у специалиста и вернусь с ответом" in unknown
    assert _text(await emu.ask("Спасибо большое!")).startswith("Пожалуйста")
    english_system = (
        "<client>\nName: John Smith\n</client>\n<knowledge>\n"
        '<passage id="kb-1" title="Delivery">Delivery takes two days. '
        "Delivery costs 5 dollars.</passage>\n</knowledge>\n<language>en</language>"
    )
    english = _text(await emu.ask("How much does delivery cost?", system=english_system))
    assert english == "Hello, John! Delivery costs 5 dollars. [kb-1]"
    bare = _text(
        await emu.client.messages.create(  # no system prompt at all: degrade gracefully
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "Что нового?"}]
        )
    )
    assert bare == "Здравствуйте! В базе знаний нет ответа на этот вопрос. Уточню у специалиста и вернусь с ответом."


async def test_max_tokens_stop_sequences_and_scripted_replies(emu: Emulator) -> None:
    emu.state.script("расписание", "Мы работаем с девяти до шести. END Этого не видно.")
    stopped = await emu.ask("Какое расписание?", stop_sequences=["END"])
    assert _text(stopped) == "Мы работаем с девяти до шести. "
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "END"
    cut = await emu.ask("Какое расписание?", max_tokens=3)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 3 and len(_text(cut)) == 12


async def test_enforced_rate_limits_answer_429_until_the_bucket_refills(emu: Emulator) -> None:
    emu.state.enforce_rate_limits = True
    emu.state.rate_limits.requests = 2
    emu.state.reset_rate_limits()
    for _ in range(2):
        await emu.ask("Привет")
    with pytest.raises(anthropic.RateLimitError) as caught:
        await emu.ask("Привет")
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    emu.clock.t += 30  # half a minute refills one request of two per minute
    assert (await emu.ask("Привет")).content


def test_request_ids_look_like_the_real_ones() -> None:
    state = ClaudeState()
    assert re.fullmatch(r"req_011C[A-Za-z0-9]{20}", state.new_id("req_011C", 20))


async def test_thinking_blocks_stream_with_signature(emu: Emulator) -> None:
    emu.state.emit_thinking = True  # adaptive thinking (the 2026 default) shows up as a thinking block
    async with emu.client.messages.stream(
        model=SONNET, max_tokens=1000, system=SYSTEM, messages=DELIVERY_QUESTION
    ) as s:
        final = await s.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    assert text.type == "text" and "[kb-12]" in text.text
    assert final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.thinking_tokens == estimate_tokens(thinking.thinking)
    manual = await emu.client.messages.create(
        model=HAIKU_OLD,
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert [block.type for block in manual.content] == ["thinking", "text"]
    with pytest.raises(anthropic.BadRequestError):  # manual thinking is gone on the 5.5 models
        await emu.ask("Привет", thinking={"type": "enabled", "budget_tokens": 1024})


async def test_unknown_route_and_clock_control(emu: Emulator) -> None:
    async with emu.raw() as http:
        missing = await http.get("/v1/nothing", headers={**HEADERS, "x-api-key": KEY})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
        await emu.ask("Привет", system=_cached_system())
        await http.post("/_sandbox/clock", json={"advance": 301})
        after = await emu.ask("Привет", system=_cached_system())
    assert after.usage.cache_read_input_tokens == 0 and after.usage.cache_creation_input_tokens > 0
