"""The Claude emulator answers structured classification requests (output_config.format json_schema)
plausibly and deterministically, over the official SDK, with the real API's usage and cache fields."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from b24claude.sandbox.claude import ClaudeState, create_claude_app
from b24claude.sandbox.server import ServerHandle

pytestmark = pytest.mark.contract

HAIKU = "claude-haiku-5-5"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["support", "sales", "complaint", "consultation", "spam", "smalltalk"]},
        "urgency": {"type": "string", "enum": ["low", "normal", "high", "critical"]},
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "needs_human": {"type": "boolean"},
        "topic": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["type", "urgency", "sentiment", "needs_human", "topic", "confidence"],
    "additionalProperties": False,
}
# Long enough to pass Haiku 5.5's minimum cacheable prefix, as the product's triage prompt does.
SYSTEM = "Классифицируй обращение клиента интернет-магазина велосипедов. " * 120


@pytest.fixture
async def client() -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with ServerHandle(create_claude_app(ClaudeState())) as server:
        sdk = anthropic.AsyncAnthropic(api_key="sk-ant-sandbox", base_url=server.base_url, max_retries=0)
        yield sdk
        await sdk.close()


async def _classify(sdk: anthropic.AsyncAnthropic, *texts: str) -> tuple[dict[str, Any], anthropic.types.Message]:
    message = await sdk.messages.create(
        model=HAIKU,
        max_tokens=300,
        system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "\n\n".join(texts)}],
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    text = "".join(b.text for b in message.content if b.type == "text")
    return json.loads(text), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Позовите живого человека, пожалуйста", {"needs_human": True}),
        (
            "Это безобразие! Велосипед сломался через неделю, верните деньги!!!",
            {"type": "complaint", "sentiment": "negative", "needs_human": True},
        ),
        ("Ребёнок упал, руль отвалился на ходу, буду писать в Роспотребнадзор", {"urgency": "critical"}),
        ("Заработок от 100 000 в день без вложений, пиши t.me/easy_money", {"type": "spam", "urgency": "low"}),
        ("Хочу купить горный велосипед, есть в наличии 29 дюймов?", {"type": "sales", "needs_human": False}),
        ("У меня не работает переключатель скоростей", {"type": "support"}),
        ("Привет!", {"type": "smalltalk", "urgency": "low"}),
        ("Спасибо большое, всё отлично!", {"sentiment": "positive"}),
        ("The scooter is broken, not working at all", {"type": "support"}),
    ],
)
async def test_classification_follows_the_cues_of_the_text(
    client: anthropic.AsyncAnthropic, text: str, expected: dict[str, Any]
) -> None:
    data, message = await _classify(client, text)
    assert set(data) == set(SCHEMA["properties"]) and 0 <= data["confidence"] <= 1
    assert {key: data[key] for key in expected} == expected
    assert message.stop_reason == "end_turn" and message.model == HAIKU


async def test_same_dialogue_same_labels_and_vague_text_has_low_confidence(client: anthropic.AsyncAnthropic) -> None:
    first, _ = await _classify(client, "Велосипед сломался, верните деньги")
    again, _ = await _classify(client, "Велосипед сломался, верните деньги")
    assert first == again
    vague, _ = await _classify(client, "ну вот такое дело значит")
    clear, _ = await _classify(client, "Хочу купить велосипед, сколько стоит?")
    assert vague["confidence"] < 0.6 < clear["confidence"]


async def test_the_whole_dialogue_counts_and_a_turn_to_complaint_is_seen(client: anthropic.AsyncAnthropic) -> None:
    calm, _ = await _classify(client, "Когда привезут мой заказ?")
    turned, _ = await _classify(client, "Когда привезут мой заказ?", "Третий раз спрашиваю, это безобразие, жалоба!")
    assert calm["sentiment"] != "negative" and calm["type"] != "complaint"
    assert turned["type"] == "complaint" and turned["sentiment"] == "negative"


async def test_usage_reports_cache_write_then_read_for_the_stable_system_prefix(
    client: anthropic.AsyncAnthropic,
) -> None:
    _, first = await _classify(client, "Сколько стоит доставка?")
    _, second = await _classify(client, "Где самовывоз?")
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0 and second.usage.input_tokens > 0
    assert second.usage.output_tokens > 0


async def test_a_format_other_than_json_schema_is_a_400_not_a_guess(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(
            model=HAIKU,
            max_tokens=100,
            messages=[{"role": "user", "content": "Привет"}],
            output_config={"format": {"type": "json_object", "schema": SCHEMA}},  # type: ignore[typeddict-item]
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
