from __future__ import annotations

from collections.abc import AsyncIterator

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
