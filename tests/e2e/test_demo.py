"""`b24claude demo`: the README's promise, run as a newcomer would (a separate process, no credentials)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_demo_answers_every_scripted_message_and_exits_0() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24C_", "ANTHROPIC_"))}
    out = subprocess.run(
        [sys.executable, "-m", "b24claude.cli.main", "demo"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "answered: 9/9" in out.stdout
    # The personal-data dialogue: Claude saw placeholders, the customer got the number back.
    assert re.search(r"\[ТЕЛЕФОН_\d\]", out.stdout) and "[ПАСПОРТ_1]" in out.stdout
    assert "Записал ваши" in out.stdout and out.stdout.count("111-22-33") >= 3  # asked, replied, CRM
    assert "Здравствуйте, Анна!" in out.stdout  # the CRM contact behind the chat was used
    assert "QUERY_LIMIT_EXCEEDED: 0" in out.stdout
