"""Events acknowledged per second and acknowledgement latency, over real HTTP.

The app runs as its own process (``b24claude serve``, SQLite WAL inbox, worker on), installed into
the portal emulator; this process posts classic ONIMBOTMESSAGEADD events (the exact wire form of
the reference fixture, valid application token, unique MESSAGE_IDs) with C concurrent connections.
Every 200 means the event was durably committed to the inbox first. The events are operator
messages, so the worker stores, claims and ignores them (no Claude or REST calls compete for CPU).

    .venv/bin/python bench/bench_ingress.py [--n 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from pathlib import Path

import httpx

from b24claude.cli.stack import SandboxStack
from b24claude.kit import phpform
from bench.common import machine, percentile

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "bitrix24_fixtures"


def _fixture_body() -> dict:  # type: ignore[type-arg]
    candidates = [FIXTURE, Path(__file__).resolve().parents[1] / "tests" / "fixtures"]
    for d in candidates:
        f = d / "ONIMBOTMESSAGEADD_openlines.json"
        if f.exists():
            return json.loads(f.read_text(encoding="utf-8"))["body"]  # type: ignore[no-any-return]
    raise FileNotFoundError("ONIMBOTMESSAGEADD_openlines.json")


async def main(n: int, concurrency: int) -> dict[str, float]:
    stack = SandboxStack(bot_api="v1")
    await stack.start(install=False)
    await stack.stop_app()
    proc = stack.spawn_app_process()
    try:
        await stack.wait_app_http()
        await stack.install()
        token = next(iter(stack.portal.apps.values())).application_token
        template = copy.deepcopy(_fixture_body())
        template["auth"]["member_id"] = stack.member_id
        template["auth"]["application_token"] = token
        template["data"]["USER"]["IS_CONNECTOR"] = "N"
        bodies = []
        for i in range(n):
            template["data"]["PARAMS"]["MESSAGE_ID"] = str(1_000_000 + i)
            template["data"]["PARAMS"]["DIALOG_ID"] = f"chat{900_000 + i % 200}"
            bodies.append(phpform.encode(template))
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        queue: asyncio.Queue[str] = asyncio.Queue()
        for b in bodies:
            queue.put_nowait(b)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"content-type": "application/x-www-form-urlencoded"}
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            # warm-up (connections, first-request costs), not measured
            for b in bodies[:50]:
                await http.post(f"{stack.app_url}/b24/events", content=b, headers=headers)
            for b in bodies[:50]:
                queue.get_nowait()

            async def client() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    t0 = time.perf_counter()
                    r = await http.post(f"{stack.app_url}/b24/events", content=body, headers=headers)
                    latencies.append(time.perf_counter() - t0)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            elapsed = time.perf_counter() - t0
        measured = len(latencies)
        return {
            "events": measured,
            "ack_per_s": measured / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "non_200": sum(v for k, v in statuses.items() if k != 200),
        }
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await stack.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    r = asyncio.run(main(args.n, args.concurrency))
    print(f"bench_ingress: {machine()}")
    print(f"  conditions: app = one `b24claude serve` process (SQLite WAL inbox, worker on); load from a second "
          f"process over loopback HTTP, {args.concurrency} connections, {r['events']:.0f} events")
    print(f"  acknowledged/s: {r['ack_per_s']:.0f}   latency p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   "
          f"non-200: {r['non_200']:.0f}")
