"""What a test needs from the machine (a real service, a browser): the one rule for when it is missing.

Locally the test is skipped with the reason; under ``CI=true`` (``.ci/run`` starts PostgreSQL, Redis and
RabbitMQ and installs Chromium first) it FAILS — a missing service must never turn into a green run.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Fail under CI, skip outside it."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
