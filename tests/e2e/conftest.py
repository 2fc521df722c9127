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
