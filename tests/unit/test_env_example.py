"""``.env.example`` lists exactly the settings of ``settings.py``, each with its true default and one
line of explanation (regenerate with ``b24claude env-example > .env.example``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from b24claude.cli.envfile import env_name, render_env_example
from b24claude.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SETTING_LINE = re.compile(r"^# (B24C_[A-Z0-9_]+)=(.*)$")


def _settings_lines() -> list[tuple[int, str, str]]:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [(i, m.group(1), m.group(2)) for i, line in enumerate(lines) if (m := SETTING_LINE.match(line))]


def test_the_committed_file_is_what_settings_py_renders() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render_env_example(), (
        "regenerate it: b24claude env-example > .env.example"
    )


def test_it_lists_exactly_the_settings_each_once_with_an_explanation() -> None:
    found = _settings_lines()
    names = [name for _, name, _ in found]
    assert sorted(names) == sorted(env_name(field) for field in Settings.model_fields)
    assert len(names) == len(set(names))
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, name, _ in found:
        above = lines[i - 1]
        assert above.startswith("# ") and len(above) > 10 and not SETTING_LINE.match(above), name


def test_its_defaults_are_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line uncommented, the file read as a .env: the same settings as no file at all."""
    for key in list(os.environ):
        if key.startswith("B24C_"):
            monkeypatch.delenv(key)
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(f"{name}={value}" for _, name, value in _settings_lines()) + "\n", encoding="utf-8"
    )
    loaded = Settings(_env_file=env)
    defaults = Settings(_env_file=None)
    assert loaded.model_dump() == defaults.model_dump()
    assert loaded.persona == defaults.persona and "—" in loaded.persona
    assert loaded.b24_client_secret.get_secret_value() == ""
