"""Disk (scope ``disk``): storages, folders, files and their download links.

Per bitrix24/b24restdocs api-reference/disk: ``disk.storage.getlist`` / ``.get`` / ``.getchildren``,
``disk.folder.get`` / ``.getchildren``, ``disk.file.get``. Objects carry the documented
upper-case fields as strings (``ID``, ``NAME``, ``TYPE``, ``PARENT_ID``, ``DELETED_TYPE``,
``GLOBAL_CONTENT_VERSION``, ``SIZE``, ``UPDATE_TIME``, ``DOWNLOAD_URL``…); lists page by 50 with
``start``/``next``/``total``; objects in the trash are not listed and are "not found". Errors:
``ERROR_ARGUMENT`` (no ``id``), ``ERROR_NOT_FOUND`` (400, "Could not find entity with id 'X'"),
``ACCESS_DENIED`` (403) for objects the test marked unreadable.

A file's ``DOWNLOAD_URL`` is ``<portal>/rest/download.json?auth=<caller's token>&token=disk|<id>``
on the portal's own host, as in the docs' disk.file.get example; the app serves it (GET) with the
file's bytes. ``DiskState.download_base`` can point the links at another host (to test that a
client refuses them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .base import JSON, PAGE, Caller, Paged, Registry, RestError, as_int, param

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()


@dataclass
class DiskObject:
    id: int
    name: str
    type: str  # "folder" | "file"
    storage_id: int
    parent_id: int | None
    created: float
    updated: float
    data: bytes = b""
    version: int = 1
    file_id: int = 0
    deleted_type: int = 0  # 0 not deleted, 3 in the trash, 4 deleted with its parent folder
    created_by: int = 1
    updated_by: int = 1


@dataclass
class DiskStorage:
    id: int
    name: str
    entity_type: str  # user | common | group
    entity_id: str
    root_id: int


@dataclass
class DiskState:
    storages: dict[int, DiskStorage] = field(default_factory=dict)
    objects: dict[int, DiskObject] = field(default_factory=dict)
    # object ids the callers may not read (ACCESS_DENIED), and the download tokens handed out
    denied: set[int] = field(default_factory=set)
    tokens: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    download_base: str | None = None  # None: the portal's own base URL
    downloads: int = 0
    _next_id: int = 1

    def _id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def add_storage(
        self, now: float, name: str, entity_type: str = "common", entity_id: str = "shared_files_s1"
    ) -> int:
        root = self._id()
        storage_id = len(self.storages) + 1
        self.objects[root] = DiskObject(root, name, "folder", storage_id, None, now, now)
        self.storages[storage_id] = DiskStorage(storage_id, name, entity_type, entity_id, root)
        return storage_id

    def add_folder(self, now: float, parent_id: int, name: str) -> int:
        parent = self.objects[parent_id]
        ident = self._id()
        self.objects[ident] = DiskObject(ident, name, "folder", parent.storage_id, parent_id, now, now)
        return ident

    def put_file(self, now: float, folder_id: int, name: str, data: bytes) -> int:
        """Upload ``name`` into the folder; an existing file of that name gets a new version."""
        for obj in self.children(folder_id):
            if obj.type == "file" and obj.name == name:
                obj.data, obj.version, obj.updated = data, obj.version + 1, now
                obj.file_id = self._id() + 10_000
                return obj.id
        parent = self.objects[folder_id]
        ident = self._id()
        self.objects[ident] = DiskObject(
            ident, name, "file", parent.storage_id, folder_id, now, now, data=data, file_id=ident + 10_000
        )
        return ident

    def trash(self, object_id: int) -> None:
        """Move to the trash (``disk.file.markdeleted``); a folder's contents go with it."""
        self.objects[object_id].deleted_type = 3
        for child in [o for o in self.objects.values() if o.parent_id == object_id]:
            self.trash(child.id)
            child.deleted_type = 4

    def children(self, folder_id: int) -> list[DiskObject]:
        return sorted(
            (o for o in self.objects.values() if o.parent_id == folder_id and o.deleted_type == 0),
            key=lambda o: (o.type != "folder", o.id),
        )


def _disk(state: PortalState) -> DiskState:
    disk: DiskState = state.disk
    return disk


def _object(state: PortalState, params: JSON, kind: str | None) -> DiskObject:
    raw = param(params, "id")
    ident = as_int(raw, -1)
    if raw is None or raw == "" or ident < 0:
        raise RestError(400, "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}")
    obj = _disk(state).objects.get(ident)
    if obj is None or obj.deleted_type != 0 or (kind is not None and obj.type != kind):
        raise RestError(400, "ERROR_NOT_FOUND", f"Could not find entity with id '{ident}'")
    if ident in state.disk.denied:
        raise RestError(403, "ACCESS_DENIED", "Access denied")
    return obj


def _download_url(state: PortalState, obj: DiskObject, params: JSON) -> str:
    auth = params.get("auth") if isinstance(params.get("auth"), str) else None
    token = secrets.token_urlsafe(24)
    state.disk.tokens[token] = (obj.id, auth)
    base = (state.disk.download_base or state.base_url).rstrip("/")
    query = f"token={quote('disk|' + token, safe='')}"
    if auth:
        query = f"auth={auth}&{query}"
    return f"{base}/rest/download.json?{query}"


def render(state: PortalState, obj: DiskObject, params: JSON) -> JSON:
    """The object as disk.file.get / disk.folder.get show it, in the documented order."""
    out: JSON = {
        "ID": str(obj.id),
        "NAME": obj.name,
        "CODE": None,
        "STORAGE_ID": str(obj.storage_id),
        "TYPE": obj.type,
        "PARENT_ID": str(obj.parent_id) if obj.parent_id is not None else None,
        "DELETED_TYPE": str(obj.deleted_type),
    }
    if obj.type == "file":
        out["GLOBAL_CONTENT_VERSION"] = str(obj.version)
        out["FILE_ID"] = str(obj.file_id)
        out["SIZE"] = str(len(obj.data))
    out.update(
        {
            "CREATE_TIME": state.iso(obj.created),
            "UPDATE_TIME": state.iso(obj.updated),
            "DELETE_TIME": None,
            "CREATED_BY": str(obj.created_by),
            "UPDATED_BY": str(obj.updated_by),
            "DELETED_BY": "0",
        }
    )
    if obj.type == "file":
        out["DOWNLOAD_URL"] = _download_url(state, obj, params)
        out["DETAIL_URL"] = f"{state.base_url}/docs/file/{quote(obj.name)}"
    else:
        out["DETAIL_URL"] = f"{state.base_url}/docs/path/{quote(obj.name)}/"
    return out


def _page(items: list[Any], params: JSON) -> Paged:
    start = max(0, as_int(param(params, "start"), 0))
    chunk = items[start : start + PAGE]
    nxt = start + PAGE if start + PAGE < len(items) else None
    return Paged(chunk, total=len(items), next=nxt)


def _matches(record: JSON, flt: Any) -> bool:
    if not isinstance(flt, dict):
        return True
    for key, want in flt.items():
        name = str(key).lstrip("=%")
        have = record.get(name.upper())
        if str(key).startswith("%"):
            if str(want).lower() not in str(have or "").lower():
                return False
        elif str(have) != str(want):
            return False
    return True


def _storage_json(s: DiskStorage) -> JSON:
    return {
        "ID": str(s.id),
        "NAME": s.name,
        "CODE": None,
        "MODULE_ID": "disk",
        "ENTITY_TYPE": s.entity_type,
        "ENTITY_ID": s.entity_id,
        "ROOT_OBJECT_ID": str(s.root_id),
    }


@methods.add("disk.storage.getlist", scope="disk")
async def storage_getlist(state: PortalState, caller: Caller, params: JSON) -> Any:
    rows = [_storage_json(s) for s in _disk(state).storages.values()]
    return _page([r for r in rows if _matches(r, param(params, "filter"))], params)


@methods.add("disk.storage.get", scope="disk")
async def storage_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    ident = as_int(param(params, "id"), -1)
    storage = _disk(state).storages.get(ident)
    if param(params, "id") in (None, ""):
        raise RestError(400, "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}")
    if storage is None:
        raise RestError(400, "ERROR_NOT_FOUND", f"Could not find entity with id '{ident}'")
    return _storage_json(storage)


@methods.add("disk.storage.getchildren", scope="disk")
async def storage_getchildren(state: PortalState, caller: Caller, params: JSON) -> Any:
    storage = await storage_get(state, caller, params)
    root = as_int(storage["ROOT_OBJECT_ID"])
    rows = [render(state, o, params) for o in state.disk.children(root)]
    return _page([r for r in rows if _matches(r, param(params, "filter"))], params)


@methods.add("disk.folder.get", scope="disk")
async def folder_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    return render(state, _object(state, params, "folder"), params)


@methods.add("disk.folder.getchildren", scope="disk")
async def folder_getchildren(state: PortalState, caller: Caller, params: JSON) -> Any:
    folder = _object(state, params, "folder")
    rows = [render(state, o, params) for o in state.disk.children(folder.id)]
    return _page([r for r in rows if _matches(r, param(params, "filter"))], params)


@methods.add("disk.file.get", scope="disk")
async def file_get(state: PortalState, caller: Caller, params: JSON) -> Any:
    return render(state, _object(state, params, "file"), params)


def download(state: PortalState, query: dict[str, str]) -> tuple[int, JSON | bytes, str]:
    """``GET /rest/download.json?auth=…&token=disk|…``: (status, JSON error or bytes, file name)."""
    raw = query.get("token", "")
    entry = state.disk.tokens.get(raw.removeprefix("disk|"))
    if not raw.startswith("disk|") or entry is None:
        return 404, {"error": "ERROR_NOT_FOUND", "error_description": "File not found"}, ""
    object_id, auth = entry
    if auth is not None:
        token = state.tokens.get(query.get("auth", ""))
        if token is None or query.get("auth") != auth:
            return (
                401,
                {"error": "invalid_token", "error_description": "The access token provided is invalid"},
                "",
            )
        if token.expires_at <= state.now():
            return (
                401,
                {"error": "expired_token", "error_description": "The access token provided has expired."},
                "",
            )
    obj = state.disk.objects.get(object_id)
    if obj is None or obj.deleted_type != 0 or obj.type != "file":
        return 404, {"error": "ERROR_NOT_FOUND", "error_description": "File not found"}, ""
    state.disk.downloads += 1
    return 200, obj.data, obj.name
