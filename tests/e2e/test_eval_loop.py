"""``b24claude eval`` replays conversations through the whole loop: run as the CLI runs it (a subprocess),
its JSON lines and summary checked against labels known to the sandbox's behaviour and against each
other (the summary is computed from the lines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "eval_small.jsonl"


def test_eval_plays_each_conversation_through_the_portal_and_reads_back_what_the_product_did(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24C_")}
    done = subprocess.run(
        [
            sys.executable, "-m", "b24claude.cli.main", "eval", str(DATA),
            "--knowledge", str(ROOT / "bench" / "data" / "kb_velograd"),
            "--json", "--out", str(tmp_path / "out"),
        ],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    *rows, summary = lines
    by_id = {r["id"]: r for r in rows}
    assert list(by_id) == [json.loads(line)["id"] for line in DATA.read_text(encoding="utf-8").splitlines()]

    # A knowledge question: answered by a model from the base, with its citation stored on the turn,
    # classified (the triage row), costed from the ledger.
    kb = by_id["dev-kb-paraphrase-001"]
    assert kb["sources"] == ["dostavka.md#Доставка по Москве"] and "490" in kb["reply"][0]
    assert kb["type"] is not None and kb["needs_human"] is False
    assert kb["cost_usd"] > 0 and kb["model"] and not kb["cached"] and not kb["handed_off"]
    assert "[k" not in kb["reply"][0]  # as the customer saw it: the markers are stripped
    # Asking for a person: the prefilter's rule hands off with no model call; the portal shows the transfer.
    human = by_id["dev-human-01"]
    assert human["handed_off"] is True and human["cost_usd"] == 0 and "специалист" in human["reply"][0]
    # Spam: dropped by the rules, nothing reaches the customer, nothing costs.
    spam = by_id["dev-spam-01"]
    assert spam["reply"] == [] and spam["cost_usd"] == 0 and not spam["handed_off"]
    # The same question from another customer: the answer cache serves it (no answer call, far cheaper),
    # the reply addresses this customer, the citations come with it.
    first, again = by_id["dev-dup-01"], by_id["dev-dup-02"]
    assert not first["cached"] and again["cached"] is True
    assert again["sources"] == first["sources"] and again["cost_usd"] < first["cost_usd"] / 5
    assert "Павел" in again["reply"][0] and "Наталья" not in again["reply"][0]
    # A greeting then questions: the greeting by rule, each message answered in order.
    complaint = by_id["dev-complaint-01v"]
    assert len(complaint["reply"]) == 3 and complaint["reply"][0].startswith("Здравствуйте")

    assert summary["summary"] is True and summary["conversations"] == len(rows) == 6
    total = sum(r["cost_usd"] for r in rows)
    assert abs(summary["cost_usd"] - total) < 1e-5
    assert abs(summary["cost_per_1000_usd"] - 1000 * total / len(rows)) < 1e-2
    assert summary["answer_cache_hits"] == 1 and summary["wrong_cache_hits"] == 0
    assert summary["handed_off"] == 1 and summary["handoff_precision"] == 1.0
    assert summary["retrieval_hit_rate"] == 1.0
    # 8 messages: greeting, human request and spam by rules; one served by the cache.
    assert summary["rules_share"] == round(3 / 8, 3) and summary["answer_cache_share"] == round(1 / 8, 3)
    assert 0 < summary["cache_read_share"] < 1
    saved = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert saved["cost_per_1000_usd"] == summary["cost_per_1000_usd"]
