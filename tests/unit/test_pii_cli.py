"""``b24claude privacy redact`` as a user runs it: a subprocess reading messages on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LINES = [
    "позвоните Сергею 8 916 123-45-67",
    "",
    "номер заказа 4510123456",
    "ИНН 7707083893, почта anna@mail.ru\r",
]


def run(*args: str, stdin: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24C_")}
    env["PYTHONIOENCODING"] = "ascii"  # the command must not depend on the locale's encoding
    return subprocess.run(
        [sys.executable, "-m", "b24claude.cli.main", "privacy", "redact", *args],
        input=stdin.encode("utf-8"),
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_redact_json_prints_one_object_per_line_with_offsets_into_the_original_line() -> None:
    out = run("--json", stdin="\n".join(LINES) + "\n")
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    records = [json.loads(line) for line in out.stdout.decode("utf-8").splitlines()]
    assert len(records) == len(LINES)
    assert records[0]["text"] == "позвоните [ИМЯ_1] [ТЕЛЕФОН_1]"
    assert [(s["type"], s["value"]) for s in records[0]["spans"]] == [
        ("name", "Сергею"),
        ("phone", "8 916 123-45-67"),
    ]
    assert records[1] == {"text": "", "spans": []}
    assert records[2] == {"text": "номер заказа 4510123456", "spans": []}
    assert records[3]["text"] == "ИНН [ИНН_1], почта [EMAIL_1]"
    for line, record in zip(LINES, records, strict=True):
        original = line.rstrip("\r")
        for span in record["spans"]:
            assert original[span["start"] : span["end"]] == span["value"]
    assert "Сергею" in out.stdout.decode("utf-8")  # not escaped: ensure_ascii=False


def test_redact_plain_masks_only_the_asked_types() -> None:
    out = run("--types", "phone,email", stdin=LINES[0] + "\n" + LINES[3])
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode("utf-8").splitlines() == [
        "позвоните Сергею [ТЕЛЕФОН_1]",
        "ИНН 7707083893, почта [EMAIL_1]",
    ]


def test_redact_rejects_an_unknown_type() -> None:
    out = run("--types", "phone,shoe_size", stdin="")
    assert out.returncode != 0
    assert "shoe_size" in out.stderr.decode("utf-8")
