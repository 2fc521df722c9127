"""The log files as a :class:`b24claude.ports.retention.LogArchive`.

Layout (``settings.log_dir``): ``<log_dir>/<member_id or "_service">/<YYYY-MM-DD>.jsonl`` — one JSON
object per line, possibly with a ``dialog_key`` (the dialogue's own key or the portal-qualified one)
or an ``inbox_id``. Days are UTC dates. Files of any other name are left alone.

Dropping lines rewrites a file *in place* (same inode), so a handler holding the file open in append
mode would keep writing to it (the service's handler opens the file per record anyway). A line
appended between our last read and the truncate would be lost; the rewrite re-reads whatever was
appended meanwhile to keep that window to a few microseconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from b24claude.ports.retention import stored_forms

SERVICE_DIR = "_service"
_DAY_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")


class FileLogArchive:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    async def members(self) -> list[str]:
        return await asyncio.to_thread(self._members)

    async def delete_before(self, member_id: str | None, *, before: float) -> int:
        return await asyncio.to_thread(self._delete_before, member_id, before)

    async def drop_lines(
        self,
        member_id: str,
        *,
        dialog_keys: Sequence[str] = (),
        inbox_ids: Sequence[int] = (),
        text_match: Callable[[str], bool] | None = None,
    ) -> int:
        about = _About(member_id, dialog_keys, inbox_ids)
        if not about and text_match is None:
            return 0
        return await asyncio.to_thread(self._drop_lines, member_id, about, text_match)

    async def lines(
        self,
        member_id: str,
        *,
        dialog_keys: Sequence[str] = (),
        inbox_ids: Sequence[int] = (),
        text_match: Callable[[str], bool] | None = None,
    ) -> list[Mapping[str, Any]]:
        about = _About(member_id, dialog_keys, inbox_ids)
        if not about and text_match is None:
            return []
        return await asyncio.to_thread(self._lines, member_id, about, text_match)

    # --- blocking parts, run in a thread ------------------------------------------------------------

    def _dir(self, member_id: str | None) -> Path | None:
        name = SERVICE_DIR if member_id is None else member_id
        # A member id is data from outside: it names one directory right under the root, nothing else.
        if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
            return None
        path = self.root / name
        return path if path.is_dir() else None

    def _members(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name != SERVICE_DIR)

    def _day_files(self, member_id: str | None) -> list[tuple[dt.date, Path]]:
        folder = self._dir(member_id)
        if folder is None:
            return []
        files: list[tuple[dt.date, Path]] = []
        for path in folder.iterdir():
            m = _DAY_FILE.match(path.name)
            if m is None or not path.is_file():
                continue
            try:
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
            files.append((day, path))
        return sorted(files)

    def _delete_before(self, member_id: str | None, before: float) -> int:
        # Day D is wholly before `before` when D + 1 (00:00 UTC) <= before, i.e. D < before's date.
        cutoff = dt.datetime.fromtimestamp(before, tz=dt.UTC).date()
        deleted = 0
        for day, path in self._day_files(member_id):
            if day < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted

    def _drop_lines(self, member_id: str, about: _About, text_match: Callable[[str], bool] | None) -> int:
        def doomed(line: str) -> bool:
            return about.concerns(_record(line)) or (text_match is not None and text_match(line))

        dropped = 0
        for _, path in self._day_files(member_id):
            dropped += _rewrite_without(path, doomed)
        return dropped

    def _lines(
        self, member_id: str, about: _About, text_match: Callable[[str], bool] | None
    ) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        for _, path in self._day_files(member_id):
            with path.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    record = _record(line)
                    if about.concerns(record) or (text_match is not None and text_match(line)):
                        found.append(record if record is not None else {"line": line.rstrip("\n")})
        return found


class _About:
    """Which log records are about given dialogues or inbox rows."""

    def __init__(self, member_id: str, dialog_keys: Sequence[str], inbox_ids: Sequence[int]) -> None:
        self.keys = set(stored_forms(member_id, dialog_keys))
        self.inbox_ids = {int(i) for i in inbox_ids}

    def __bool__(self) -> bool:
        return bool(self.keys or self.inbox_ids)

    def concerns(self, record: Mapping[str, Any] | None) -> bool:
        if record is None:
            return False
        key, inbox_id = record.get("dialog_key"), record.get("inbox_id")
        if isinstance(key, str) and key in self.keys:
            return True
        return isinstance(inbox_id, int) and not isinstance(inbox_id, bool) and inbox_id in self.inbox_ids


def _record(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _rewrite_without(path: Path, doomed: Callable[[str], bool]) -> int:
    """Remove the lines ``doomed`` accepts, in place; returns how many."""
    with path.open("r+b") as f:
        data = f.read()
        kept, dropped = _filter(data, doomed)
        if not dropped:
            return 0
        more = f.read()  # appended while we filtered
        while more:
            extra_kept, extra_dropped = _filter(more, doomed)
            kept += extra_kept
            dropped += extra_dropped
            more = f.read()
        f.seek(0)
        f.write(kept)
        f.truncate()
        f.flush()
        os.fsync(f.fileno())
    return dropped


def _filter(data: bytes, doomed: Callable[[str], bool]) -> tuple[bytes, int]:
    kept: list[bytes] = []
    dropped = 0
    for raw in data.splitlines(keepends=True):
        if doomed(raw.decode("utf-8", errors="replace")):
            dropped += 1
        else:
            kept.append(raw)
    return b"".join(kept), dropped
