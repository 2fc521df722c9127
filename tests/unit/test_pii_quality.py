"""The detector's quality on the labelled DEV set, scored by bench/bench_pii.py's own rule.

A floor, not the target: a change that makes the detector clearly worse on the set it is tuned on fails
here before anyone runs the bench. The holdout set is never read by tests (it is for honest reporting).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.bench_pii import DATA, PER_CLEAN, Score, load, score_message

from b24claude.privacy.detect import PiiDetector

DEV = DATA / "pii_ru_dev.jsonl"
MIN_RECALL = {
    "phone": 0.97,
    "email": 0.97,
    "card": 0.97,
    "inn": 0.97,
    "snils": 0.97,
    "passport": 0.97,
    "name": 0.90,
}
MIN_NAME_PRECISION = 0.90
MAX_FALSE_POSITIVES_PER_50_CLEAN = 1.0


@pytest.fixture(scope="module")
def dev_score() -> Score:
    assert Path(DEV).exists(), DEV
    detector = PiiDetector()
    score = Score()
    for message in load(DEV):
        score_message(message, detector.detect(message["text"]), score)
    return score


def _misses(score: Score, pii_type: str) -> list[str]:
    return [m for m in score.misses if m.split(": ", 1)[1].startswith(f"{pii_type} ")]


@pytest.mark.parametrize(("pii_type", "floor"), sorted(MIN_RECALL.items()))
def test_recall_on_dev(dev_score: Score, pii_type: str, floor: float) -> None:
    counts = dev_score.per_type[pii_type]
    assert counts.gold > 0, f"no {pii_type} in the dev set"
    recall = counts.figures()["recall"]
    assert recall >= floor, (f"{pii_type} recall {recall:.3f} < {floor}", _misses(dev_score, pii_type))


def test_name_precision_on_dev(dev_score: Score) -> None:
    precision = dev_score.per_type["name"].figures()["precision"]
    wrong = [fp for fp in dev_score.false_positives if fp.split(": ", 1)[1].startswith("name ")]
    assert precision >= MIN_NAME_PRECISION, (f"name precision {precision:.3f}", wrong)


def test_few_false_positives_in_clean_dev_messages(dev_score: Score) -> None:
    assert dev_score.clean_messages > 0
    per_50 = dev_score.clean_false_positives * PER_CLEAN / dev_score.clean_messages
    assert per_50 <= MAX_FALSE_POSITIVES_PER_50_CLEAN, (
        f"{per_50:.2f} per {PER_CLEAN}",
        dev_score.false_positives,
    )
