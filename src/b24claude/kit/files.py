"""Files attached to chat messages, in one type for the event parsers, the REST adapter and the domains.

Where Bitrix24 puts them (reference/bitrix24.md §4.3: "Attachments/files: undocumented keys [U]"):

- a classic ``ONIMBOTMESSAGEADD`` carries ``data[PARAMS][FILES][<id>]`` — the file objects of the
  message keyed by their Disk id, beside ``data[PARAMS][PARAMS][FILE_ID][]``;
- an ``imbot.v2`` event carries the message's ``params.FILE_ID`` and the file objects as a ``files``
  list (the ``File`` entity of api-reference/chat-bots/chat-bots-v2/entities.md: ``id, chatId, type,
  name, extension, size, …``, plus ``urlShow``/``urlDownload`` as the ``im`` methods return them);
- ``im.dialog.messages.get`` returns ``files`` beside ``messages`` (each message names its files in
  ``params.FILE_ID``).

The parser accepts a mapping keyed by id or a list, and ignores anything that is not a file object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChatFile:
    id: int
    name: str
    url: str = ""  # where an employee can open it (urlShow, else urlDownload)
    type: str = "file"  # file | image | video | audio
    size: int = 0

    def label(self) -> str:
        """``name (link)`` for a brief."""
        return f"{self.name} ({self.url})" if self.url else self.name


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_files(raw: Any) -> tuple[ChatFile, ...]:
    """File objects from an event or a REST answer (``{id: {...}}`` or ``[{...}]``), in id order."""
    items = raw.values() if isinstance(raw, Mapping) else raw if isinstance(raw, list) else ()
    out: dict[int, ChatFile] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        ident = _int(item.get("id") or item.get("ID"))
        name = str(item.get("name") or item.get("NAME") or "").strip()
        if ident <= 0 or not name:
            continue
        url = str(item.get("urlShow") or item.get("urlDownload") or item.get("URL") or "")
        out[ident] = ChatFile(
            id=ident,
            name=name[:255],
            url=url[:2048],
            type=str(item.get("type") or "file")[:16],
            size=max(0, _int(item.get("size"))),
        )
    return tuple(out[k] for k in sorted(out))


def file_ids(params: Any) -> tuple[int, ...]:
    """The ``FILE_ID`` list of a message's params."""
    raw = params.get("FILE_ID") if isinstance(params, Mapping) else None
    items = raw.values() if isinstance(raw, Mapping) else raw if isinstance(raw, list) else ()
    return tuple(i for i in (_int(v) for v in items) if i > 0)
