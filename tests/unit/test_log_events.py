"""Every log call of the product names a short event and puts its values in fields.

``log.info("bitrix24.refresh.start", extra={"member_id": ...})``, never
``log.info("bitrix24.refresh.start member_id=%s", member_id)``: values inside the message cannot be
filtered, routed to the portal's log file or redacted field by field.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "b24claude"
LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
EVENT_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
# Every old free-text message has been renamed; keep this empty.
NOT_YET_RENAMED: set[tuple[str, str]] = set()


def _log_calls() -> list[tuple[str, int, ast.Call]]:
    calls = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LEVELS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"log", "logger"}
            ):
                calls.append((rel, node.lineno, node))
    return calls


def _names(node: ast.expr) -> list[str | None]:
    """The event names a message argument can take (``"a.done" if ok else "a.failed"`` has two)."""
    if isinstance(node, ast.IfExp):
        return _names(node.body) + _names(node.orelse)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return [None]


def test_the_scan_finds_the_log_calls() -> None:
    files = {rel for rel, _, _ in _log_calls()}
    assert {"adapters/bitrix24/client.py", "adapters/anthropic/client.py", "inbox/worker.py"} <= files


def test_every_log_call_is_a_short_event_name_with_fields() -> None:
    bad = []
    for rel, line, call in _log_calls():
        args = call.args[1:] if call.func.attr == "log" else call.args  # type: ignore[attr-defined]
        names = _names(args[0]) if args else [None]
        if all((rel, name) in NOT_YET_RENAMED for name in names):
            continue
        if any(name is None or not EVENT_NAME.fullmatch(name) for name in names) or len(args) > 1:
            bad.append(f"{rel}:{line}: {ast.unparse(call)[:120]}")
    assert bad == []
