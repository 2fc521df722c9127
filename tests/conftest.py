from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def _shared_dir() -> Path:
    """``shared/`` lies beside the clone (CI) or beside the work tree."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "reference"
        if candidate.is_dir():
            return candidate.parent
    raise RuntimeError("shared/reference not found beside the repository")


REFERENCE = _shared_dir() / "reference"
FIXTURES = REFERENCE / "bitrix24_fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def fixture_loader() -> Any:
    return load_fixture
