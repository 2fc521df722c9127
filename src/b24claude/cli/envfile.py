"""``.env.example`` from :class:`b24claude.settings.Settings`: every setting, its default, one line on
what it does. ``b24claude env-example > .env.example`` writes it; a test keeps the committed file equal
to what this module renders, so a setting added to ``settings.py`` without regenerating fails CI."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from b24claude.settings import Settings

HEADER = """\
# b24claude settings: every B24C_* variable, its default and what it does.
# Generated from src/b24claude/settings.py by `b24claude env-example > .env.example` (a test keeps it
# true). Copy it to .env and uncomment what you change; lines left commented keep the default.
# Then `b24claude check` says what is still wrong.
"""


def env_name(field: str) -> str:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def env_value(value: Any) -> str:
    """A default as python-dotenv reads it back: JSON in single quotes for structures, double quotes
    (escaped) for text with spaces or quotes, bare otherwise."""
    value = _plain(value)
    if isinstance(value, dict | list):
        return "'" + json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and all(c.isalnum() or c in "._-:/+@,«»" for c in text):
        return text
    if not text:
        return ""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _default(info: FieldInfo) -> Any:
    return info.get_default(call_default_factory=True)


def render_env_example() -> str:
    """The whole file."""
    blocks = [HEADER]
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{name} has no description: add one in settings.py")
        explanation = " ".join(info.description.split())
        blocks.append(f"# {explanation}\n# {env_name(name)}={env_value(_default(info))}\n")
    return "\n".join(blocks)
