"""A CRM change reaches the conversation: an employee edits the contact behind a chat, Bitrix24
queues an offline event and notifies the app (ONOFFLINEEVENT), the app reads the queue, stores the
event, clears it, and drops the dialogue's cached card, so the next answer uses the card as it
is now. Both bot API modes. (The service down meanwhile: tests/integration/test_crm_offline_events.py,
with the card cache in Redis, which outlives the restart.)"""

from __future__ import annotations

from b24claude.cli.stack import SandboxStack
from tests.e2e.crm_changes import (
    ANNA_POSITION,
    anna_contact_id,
    employee_updates_contact,
    last_system_prompt,
    wait_crm_rows_done,
    wait_offline_bound,
)


async def test_a_contact_changed_by_an_employee_is_in_the_next_answer(stack: SandboxStack) -> None:
    await wait_offline_bound(stack)
    stack.claude.script("[c1]", "Ответ [c1]")
    stack.claude.script("[c2]", "Ответ [c2]")
    assert await stack.ask("Вопрос [c1]", "anna") == "Ответ [c1]"
    assert f"Должность: {ANNA_POSITION}" in last_system_prompt(stack)

    await employee_updates_contact(stack, anna_contact_id(stack), {"POST": "Директор по закупкам"})
    await wait_crm_rows_done(stack, 1)  # ONOFFLINEEVENT -> event.offline.get -> stored -> cleared

    assert await stack.ask("Вопрос [c2]", "anna") == "Ответ [c2]"
    prompt = last_system_prompt(stack)
    assert "Должность: Директор по закупкам" in prompt and ANNA_POSITION not in prompt
    assert stack.container is not None
    assert stack.container.offline.stored == 1
    # Read with clear=0 (reserved), then cleared: every event.offline.get had its clear.
    by_method = stack.portal.stats.by_method
    assert by_method.get("event.offline.clear", 0) >= 1
