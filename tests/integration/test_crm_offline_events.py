"""The service down for a while: CRM changes made meanwhile are processed after the restart, once.

Bitrix24 keeps offline events queued until the app reads and clears them (reference/bitrix24.md
§2.3). The card cache lives in Redis here, so it outlives the restart: without the offline event,
the next answer would still use the card cached before the change. A crash between reading a batch
(clear=0, reserved) and clearing it is replayed by re-reading the reserved batch: stored once.
Both bot API modes.
"""

from __future__ import annotations

import pytest

from b24claude.cli.stack import SandboxStack
from tests.e2e.crm_changes import (
    ANNA_POSITION,
    anna_contact_id,
    employee_updates_contact,
    last_system_prompt,
    wait_crm_rows_done,
    wait_offline_bound,
)


@pytest.mark.parametrize("bot_api", ["v2", "v1"])
async def test_a_contact_changed_while_the_service_was_down_is_in_the_next_answer(
    bot_api: str, redis_url: str, redis_prefix: str
) -> None:
    stack = SandboxStack(
        bot_api=bot_api, settings_overrides={"redis_url": redis_url, "redis_prefix": redis_prefix}
    )
    await stack.start()
    try:
        await wait_offline_bound(stack)
        for n in (1, 2):
            stack.claude.script(f"[o{n}]", f"Ответ [o{n}]")
        assert await stack.ask("Вопрос [o1]", "anna") == "Ответ [o1]"
        assert f"Должность: {ANNA_POSITION}" in last_system_prompt(stack)

        await stack.stop_app()
        contact = anna_contact_id(stack)
        await employee_updates_contact(stack, contact, {"POST": "Финансовый директор"})
        await employee_updates_contact(stack, contact, {"POST": "Генеральный директор"})  # merged
        await stack.portal.wait_deliveries(10.0)
        refused = [r for r in stack.portal.delivery_log if r.event == "ONOFFLINEEVENT"]
        assert refused and all(r.status != 200 for r in refused)  # nobody listened
        assert len(stack.portal.offline.records) == 1  # latest state per object, kept for us

        await stack.start_app()  # the offline puller's first round reads the queue
        await wait_crm_rows_done(stack, 1)
        assert await stack.ask("Вопрос [o2]", "anna") == "Ответ [o2]"
        prompt = last_system_prompt(stack)
        assert "Должность: Генеральный директор" in prompt and ANNA_POSITION not in prompt
    finally:
        await stack.stop()


async def test_a_batch_read_but_not_cleared_before_a_crash_is_stored_once(
    redis_url: str, redis_prefix: str
) -> None:
    stack = SandboxStack(settings_overrides={"redis_url": redis_url, "redis_prefix": redis_prefix})
    await stack.start()
    try:
        await wait_offline_bound(stack)
        await stack.stop_app()
        contacts = list(stack.portal.crm[3])[:3]
        for i, c in enumerate(contacts):
            await employee_updates_contact(stack, c, {"POST": f"p{i}"})
        # A process that reads (reserves) the batch, stores it and dies before event.offline.clear:
        # its own offline puller is off, the test does its part by hand.
        normal = stack.settings
        stack.settings = normal.model_copy(update={"offline_poll_interval_s": 0.0})
        crashing = await stack.start_app()
        batch = await crashing.gateway.offline_get(stack.member_id, limit=50)
        assert len(batch.events) == 3 and batch.process_id
        assert await crashing.inbox_service.accept_offline(stack.member_id, batch.events) == 3
        assert [r.process_id for r in stack.portal.offline.records] == [batch.process_id] * 3
        await stack.stop_app()
        # The next process finds the reserved batch (event.offline.list), re-reads and clears it.
        stack.settings = normal
        await stack.start_app()
        assert stack.container is not None
        await wait_crm_rows_done(stack, 3)
        assert stack.container.offline.recovered_batches == 1
        assert stack.container.offline.stored == 0  # the re-read batch was a duplicate: stored once
        items = await stack.container.store.inbox.list_items(statuses=["done"], limit=100)
        assert sorted(i.key for i in items if i.kind == "ONCRMCONTACTUPDATE") == sorted(
            f"offline:{e.id}" for e in batch.events
        )
    finally:
        await stack.stop()
