"""PII detection quality and redaction speed on labelled Russian chat messages.

Each data file is JSON lines ``{"id", "text", "spans": [{"type", "start", "end", "value"}]}``; a
message with ``"spans": []`` is clean. Scoring: a gold span is *found* when predicted spans of the same
type cover at least 80 % of its non-space characters; a predicted span is a *false positive* when it
overlaps no gold span of its type. Speed: ``PiiDetector.redact`` per message, detector built once and
warmed by a first pass (which is timed separately: words it has not seen yet), then N passes.

    .venv/bin/python -m bench.bench_pii [--data PATH.jsonl ...] [--repeat 5] [--errors] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from b24claude.ports.privacy import PII_TYPES
from b24claude.privacy.detect import PiiDetector, Span
from bench.common import machine, percentile

DATA = Path(__file__).parent / "data"
DEFAULT_FILES = ("pii_ru_dev.jsonl", "pii_ru_holdout.jsonl")
COVER = 0.8
PER_CLEAN = 50


@dataclass
class Counts:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    false_positives: int = 0

    def figures(self) -> dict[str, float]:
        precision = (self.predicted - self.false_positives) / self.predicted if self.predicted else 1.0
        recall = self.found / self.gold if self.gold else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1}


@dataclass
class Score:
    per_type: dict[str, Counts] = field(default_factory=lambda: {t: Counts() for t in PII_TYPES})
    clean_messages: int = 0
    clean_false_positives: int = 0
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def non_space(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if not text[i].isspace()}


def score_message(message: dict[str, Any], predicted: list[Span], score: Score) -> None:
    text: str = message["text"]
    gold: list[dict[str, Any]] = message["spans"]
    if not gold:
        score.clean_messages += 1
        score.clean_false_positives += len(predicted)
    for g in gold:
        counts = score.per_type.setdefault(g["type"], Counts())
        counts.gold += 1
        wanted = non_space(text, g["start"], g["end"])
        covered: set[int] = set()
        for p in predicted:
            if p.type == g["type"]:
                covered |= wanted & set(range(p.start, p.end))
        if wanted and len(covered) >= COVER * len(wanted):
            counts.found += 1
        else:
            score.misses.append(f"{message.get('id', '?')}: {g['type']} {g['value']!r} in {text!r}")
    for p in predicted:
        counts = score.per_type[p.type]
        counts.predicted += 1
        if not any(g["type"] == p.type and g["start"] < p.end and p.start < g["end"] for g in gold):
            counts.false_positives += 1
            score.false_positives.append(f"{message.get('id', '?')}: {p.type} {p.value!r} in {text!r}")


def run_file(detector: PiiDetector, path: Path, repeat: int, show_errors: bool) -> dict[str, Any]:
    messages = load(path)
    texts = [m["text"] for m in messages]
    score = Score()
    cold: list[float] = []
    for message in messages:
        t0 = time.perf_counter()
        _, spans = detector.redact(message["text"])
        cold.append((time.perf_counter() - t0) * 1000)
        score_message(message, spans, score)
    warm: list[float] = []
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter()
            detector.redact(text)
            warm.append((time.perf_counter() - t0) * 1000)
    print(f"\n{path} — {len(messages)} messages, {score.clean_messages} of them clean")
    print(
        f"  {'type':<10} {'gold':>5} {'found':>6} {'pred':>5} {'FP':>4} {'precision':>10} {'recall':>7} {'F1':>6}"
    )
    total = Counts()
    per_type: dict[str, Any] = {}
    for pii_type, c in score.per_type.items():
        if not c.gold and not c.predicted:
            continue
        f = c.figures()
        per_type[pii_type] = {**c.__dict__, **f}
        total.gold += c.gold
        total.found += c.found
        total.predicted += c.predicted
        total.false_positives += c.false_positives
        print(
            f"  {pii_type:<10} {c.gold:>5} {c.found:>6} {c.predicted:>5} {c.false_positives:>4} "
            f"{f['precision']:>10.3f} {f['recall']:>7.3f} {f['f1']:>6.3f}"
        )
    f = total.figures()
    print(
        f"  {'all':<10} {total.gold:>5} {total.found:>6} {total.predicted:>5} {total.false_positives:>4} "
        f"{f['precision']:>10.3f} {f['recall']:>7.3f} {f['f1']:>6.3f}"
    )
    per_clean = (
        score.clean_false_positives * PER_CLEAN / score.clean_messages if score.clean_messages else 0.0
    )
    print(
        f"  clean messages: {score.clean_messages}, spans predicted in them: {score.clean_false_positives} "
        f"= {per_clean:.2f} false positives per {PER_CLEAN} clean messages"
    )
    timing = {
        "cold_median_ms": statistics.median(cold),
        "median_ms": statistics.median(warm),
        "p90_ms": percentile(warm, 0.90),
        "p99_ms": percentile(warm, 0.99),
        "max_ms": max(warm),
        "samples": len(warm),
    }
    print(
        f"  redaction time per message (warm, {repeat} passes × {len(texts)}): median {timing['median_ms']:.3f} ms, "
        f"p90 {timing['p90_ms']:.3f} ms, p99 {timing['p99_ms']:.3f} ms, max {timing['max_ms']:.3f} ms; "
        f"first pass (unseen words) median {timing['cold_median_ms']:.3f} ms"
    )
    if show_errors:
        for line in score.misses:
            print(f"  MISS {line}")
        for line in score.false_positives:
            print(f"  FP   {line}")
    return {
        "messages": len(messages),
        "per_type": per_type,
        "all": {**total.__dict__, **f},
        "clean_messages": score.clean_messages,
        "clean_false_positives": score.clean_false_positives,
        "false_positives_per_50_clean": per_clean,
        "timing": timing,
    }


def default_files() -> list[Path]:
    """The labelled dev set (the detector was tuned on it) and the holdout (never looked at while tuning)."""
    return [DATA / name for name in DEFAULT_FILES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", type=Path, help="labelled JSONL file (repeatable)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over each file")
    parser.add_argument("--errors", action="store_true", help="print every miss and false positive")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    files: list[Path] = args.data or default_files()
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        parser.error(f"no such data file: {', '.join(missing)}")

    t0 = time.perf_counter()
    detector = PiiDetector()
    build_s = time.perf_counter() - t0
    print("conditions:")
    print(f"  machine      {machine()}")
    print(f"  detector     b24claude PiiDetector, pymorphy3 {version('pymorphy3')}, built in {build_s:.2f} s")
    print(f"  scoring      gold found when same-type predictions cover ≥ {COVER:.0%} of its non-space chars;")
    print("               a prediction is a false positive when it overlaps no gold span of its type")
    print(f"  timing       redact() per message, one thread, {args.repeat} warm passes after a first pass")
    results = {str(path): run_file(detector, path, args.repeat, args.errors) for path in files}
    if args.json_out:
        conditions = {
            "machine": machine(),
            "python": sys.version.split()[0],
            "pymorphy3": version("pymorphy3"),
            "detector_build_s": build_s,
            "repeat": args.repeat,
            "cover": COVER,
        }
        payload = {"conditions": conditions, "files": results}
        args.json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
