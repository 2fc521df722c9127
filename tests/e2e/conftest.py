from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from b24claude.cli.stack import SandboxStack


@pytest.fixture(params=["v2", "v1"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[SandboxStack]:
    """Both emulators + the app on loopback, installed, in imbot.v2 fetch mode and classic v1 mode."""
    s = SandboxStack(bot_api=request.param)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def bot_replies(stack: SandboxStack, chat_id: int) -> list[str]:
    return [m["text"] for m in stack.portal.customer_view(chat_id) if stack.is_bot(m)]


def customer_messages(stack: SandboxStack, chat_id: int) -> list[str]:
    return [m["text"] for m in stack.portal.customer_view(chat_id) if not stack.is_bot(m)]


def is_classification(request: object) -> bool:
    """A call of triage's classifier (its structured output has the classification's fields)."""
    body = getattr(request, "body", {}) or {}
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema") or {}
    return "needs_human" in (schema.get("properties") or {})


def answer_requests(stack: SandboxStack) -> list:  # type: ignore[type-arg]
    """The Messages calls other than classification (answers, client-memory extraction)."""
    return [r for r in stack.claude.requests if r.path == "/v1/messages" and not is_classification(r)]


async def settled(stack: SandboxStack) -> None:
    """Every event handled (the assistant's turn is stored after the customer sees the reply)."""
    assert stack.container is not None
    for _ in range(400):
        counts = await stack.container.store.inbox.counts()
        if counts["pending"] == 0 and counts["processing"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"events still in flight: {counts}")


def system_text(body: dict[str, Any]) -> str:
    """A Messages request's system prompt as one text (a string, or its blocks joined)."""
    system = body.get("system")
    return system if isinstance(system, str) else "\n".join(b["text"] for b in system)
