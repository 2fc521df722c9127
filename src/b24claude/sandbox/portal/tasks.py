"""Tasks: ``tasks.task.add`` (api-reference/tasks/tasks-task-add.md; reference/bitrix24.md §6).

Required ``fields.TITLE`` and ``fields.RESPONSIBLE_ID`` (an existing employee); the answer is
``{"task": {...camelCase}}`` as in the documentation's example. Stored in ``state.tasks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, param

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()


@methods.add("tasks.task.add", scope="task")
async def task_add(state: PortalState, caller: Caller, params: JSON) -> Any:
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise RestError(400, "ERROR_CORE", "fields: required parameter")
    title = str(param(fields, "TITLE", "") or "").strip()
    responsible = as_int(param(fields, "RESPONSIBLE_ID"))
    if not title:
        raise RestError(400, "ERROR_CORE", "Не указано название задачи")
    user = state.users.get(responsible)
    if user is None or user.get("_BOT") or user.get("_CONNECTOR"):
        raise RestError(400, "ERROR_CORE", "Не указан ответственный")
    task_id = state.next_id("task", 3711)
    crm = param(fields, "UF_CRM_TASK") or []
    task = {
        "id": str(task_id),
        "title": title,
        "description": str(param(fields, "DESCRIPTION", "") or ""),
        "priority": str(param(fields, "PRIORITY", "1") or "1"),
        "responsibleId": str(responsible),
        "createdBy": str(caller.user_id or 1),
        "createdDate": state.iso(),
        "status": "2",
        "ufCrmTask": [str(c) for c in (crm if isinstance(crm, list) else [crm])],
        "auditors": [str(a) for a in (param(fields, "AUDITORS") or [])],
    }
    state.tasks.append(task)
    return {"task": task}
