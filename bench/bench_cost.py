"""Cost of the same conversations: every optimisation on vs a naive baseline, in the same run.

Naive: every customer message with its full history and the whole knowledge base in the system prompt,
no prompt-cache breakpoints, no classification, all on the strong model (Sonnet 5.5).
Optimised: ``b24claude eval``'s replay through the whole loop (the sandbox stack: the app installed into
the Bitrix24 emulator, each conversation written by its own customer, message by message) — so the
prefilter's rules (greetings, thanks, spam, a request for a person: no model),
classification on Haiku 5.5 (a cached instruction prefix, re-asked only when the dialogue turns),
handoff when a human is needed or the classifier abstains, the answer cache (a repeated opening
question; a wrong hit is judged against the labels), model routing (Haiku for small talk and simple FAQ
answers), retrieved passages only, cache breakpoints on the stable prefix (persona + rules + policy,
over the 5.5 models' 512-token minimum).
The naive side calls Claude directly (no portal: it only sets the price of the bare approach).
Both against the Claude emulator (token counts ≈ chars/4, its cache simulation, list prices from
settings). The emulator classifies by cue words: these figures measure the pipeline, not Claude.

    .venv/bin/python -m bench.bench_cost [--set bench/data/conv_ru_dev.jsonl] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from b24claude.cli.evaluate import run_eval
from bench.common import machine

HERE = Path(__file__).resolve().parent


async def main(conversations: Path, limit: int | None) -> dict[str, Any]:
    path = conversations
    if limit is not None:
        rows = path.read_text(encoding="utf-8").splitlines()[:limit]
        path = Path(f"/tmp/bench_cost_{limit}.jsonl")
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    kb = HERE / "data" / "kb_velograd"
    t0 = time.perf_counter()
    naive = await run_eval(path, knowledge=kb, out=None, as_json=False, mode="naive", progress=False)
    optimised = await run_eval(path, knowledge=kb, out=None, as_json=False, mode="optimised", progress=False)
    return {"naive": naive, "optimised": optimised, "elapsed_s": round(time.perf_counter() - t0, 1)}


def report(result: dict[str, Any], conversations: Path) -> None:
    naive, opt = result["naive"], result["optimised"]
    print(f"bench_cost — {conversations.name}, {opt['conversations']} conversations; {machine()}")
    print("  Claude emulator (token estimate chars/4, its prompt-cache simulation), list prices from settings")
    rows = [
        ("cost per 1,000 conversations, USD", "cost_per_1000_usd"),
        ("cost per resolved conversation, USD", "cost_per_resolved_usd"),
        ("share of prompt tokens read from cache", "cache_read_share"),
        ("share of messages answered by rules/cache", "rules_or_cache_share"),
        ("  of which by prefilter rules", "rules_share"),
        ("  of which by the answer cache", "answer_cache_share"),
        ("answer-cache hits", "answer_cache_hits"),
        ("wrong answer-cache hits", "wrong_cache_hits"),
        ("resolved without a human", "resolved"),
        ("handed off", "handed_off"),
    ]
    print(f"  {'':44} {'naive':>12} {'optimised':>12}")
    for title, key in rows:
        print(f"  {title:44} {naive.get(key)!s:>12} {opt.get(key)!s:>12}")
    if naive["cost_per_1000_usd"]:
        share = opt["cost_per_1000_usd"] / naive["cost_per_1000_usd"]
        print(f"  optimised / naive cost: {share:.1%} (target ≤ 25 %)")
    print(f"  elapsed {result['elapsed_s']} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=HERE / "data" / "conv_ru_dev.jsonl")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.set, args.limit))
    if args.json:
        print(json.dumps(outcome, ensure_ascii=False))
    else:
        report(outcome, args.set)
