"""Widgets: ``placement.bind``, ``placement.get``, ``placement.unbind`` and what the portal shows.

Docs: ``api-reference/widgets/placement-bind.md``, ``placement-get.md``, ``placement-unbind.md``,
``left-menu.md``, ``settings/app-installation/installation-finish.md``. A bound widget is stored at
once but not shown (``shown_placements``) until the app's installation is finished with
``BX24.installFinish()`` (``App.finished``; ``app.info`` → ``INSTALLED``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, param

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()

# Only one handler allowed per app (placement-bind.md, ERROR_PLACEMENT_MAX_COUNT).
SINGLE = frozenset({"PAGE_BACKGROUND_WORKER", "REST_APP_URI"})
KNOWN = frozenset(
    {
        "LEFT_MENU",
        "REST_APP_URI",
        "PAGE_BACKGROUND_WORKER",
        "CONTACT_CENTER",
        "IM_TEXTAREA",
        "IM_SIDEBAR",
        "IM_CONTEXT_MENU",
        "IM_NAVIGATION",
        "CRM_DEAL_DETAIL_TAB",
        "CRM_LEAD_DETAIL_TAB",
        "CRM_CONTACT_DETAIL_TAB",
        "USER_PROFILE_MENU",
    }
)


@dataclass
class Placement:
    id: int
    client_id: str
    placement: str
    handler: str
    title: str = ""
    description: str = ""
    group_name: str = ""
    lang_all: JSON = field(default_factory=dict)
    options: JSON = field(default_factory=dict)
    user_id: int = 0

    def to_dict(self) -> JSON:
        """The shape of one ``placement.get`` item."""
        return {
            "placement": self.placement,
            "userId": self.user_id,
            "handler": self.handler,
            "options": self.options or [],
            "title": self.title,
            "description": self.description,
            "langAll": self.lang_all or [],
        }

    def title_in(self, lang: str) -> str:
        localized = self.lang_all.get(lang)
        if isinstance(localized, dict) and localized.get("TITLE"):
            return str(localized["TITLE"])
        return self.title


def _text(params: JSON, name: str) -> str:
    value = param(params, name, "")
    return value if isinstance(value, str) else ""


@methods.add("placement.bind", scope="placement", app_only=True)
async def placement_bind(state: PortalState, caller: Caller, params: JSON) -> Any:
    assert caller.client_id is not None
    if not state.is_admin(caller.user_id):
        raise RestError(403, "ACCESS_DENIED", "Access denied! Available only for administrator")
    code = _text(params, "PLACEMENT").upper()
    handler = _text(params, "HANDLER")
    # Documented: these argument errors come with HTTP 200 (placement-bind.md, "Обработка ошибок").
    if not code:
        raise RestError(200, "ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty")
    if not handler:
        raise RestError(200, "ERROR_ARGUMENT", "Argument 'HANDLER' is null or empty")
    if code not in KNOWN:
        raise RestError(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found")
    if not handler.startswith(("http://", "https://")):
        raise RestError(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    if param(params, "USER_ID") not in (None, "", 0, "0") and code != "PAGE_BACKGROUND_WORKER":
        raise RestError(200, "ERROR_PLACEMENT_USER_MODE", "User mode is not available")
    mine = [p for p in state.placements if p.client_id == caller.client_id and p.placement == code]
    if code in SINGLE and mine:
        raise RestError(200, "ERROR_PLACEMENT_MAX_COUNT", "Placement max count reached")
    if any(p.handler == handler for p in mine):
        raise RestError(400, "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED", "Handler already binded")
    lang_all = param(params, "LANG_ALL")
    options = param(params, "OPTIONS")
    state.placements.append(
        Placement(
            id=state.next_id("placement", 10),
            client_id=caller.client_id,
            placement=code,
            handler=handler,
            title=_text(params, "TITLE"),
            description=_text(params, "DESCRIPTION"),
            group_name=_text(params, "GROUP_NAME"),
            lang_all=lang_all if isinstance(lang_all, dict) else {},
            # LEFT_MENU keeps no OPTIONS (left-menu.md: placement.get returns an empty array).
            options=options if isinstance(options, dict) and code != "LEFT_MENU" else {},
            user_id=as_int(param(params, "USER_ID"), 0),
        )
    )
    return True


@methods.add("placement.get", scope="placement", app_only=True)
async def placement_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    return [p.to_dict() for p in state.placements if p.client_id == caller.client_id]


@methods.add("placement.unbind", scope="placement", app_only=True)
async def placement_unbind(state: PortalState, caller: Caller, params: JSON) -> Any:
    if not state.is_admin(caller.user_id):
        raise RestError(403, "ACCESS_DENIED", "Access denied! Available only for administrator")
    code = _text(params, "PLACEMENT").upper()
    if not code:
        raise RestError(200, "ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty")
    handler = _text(params, "HANDLER")
    user_id = as_int(param(params, "USER_ID"), -1)
    before = len(state.placements)
    state.placements = [
        p
        for p in state.placements
        if not (
            p.client_id == caller.client_id
            and p.placement == code
            and (not handler or p.handler == handler)
            and (user_id < 0 or p.user_id == user_id)
        )
    ]
    return {"count": before - len(state.placements)}


def shown_placements(state: PortalState, code: str) -> list[Placement]:
    """What the portal's interface shows at ``code``: widgets of apps whose install is finished."""
    return [
        p
        for p in state.placements
        if p.placement == code
        and (app := state.apps.get(p.client_id)) is not None
        and app.installed
        and app.finished
    ]
