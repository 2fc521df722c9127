"""Inbox acknowledgement speed: single-event ``add_many`` calls, as the ingress makes them.

Each call returns after its durable commit (SQLite: WAL, synchronous=NORMAL). Measures sequential calls
and 16 concurrent tasks (concurrent webhook requests in one process), on a fresh database file on tmp.

    .venv/bin/python bench/bench_inbox.py [--n 5000] [--concurrency 16] [--url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy

from b24claude.adapters.sql import SqlStore
from b24claude.ports.store import NewInboxItem


def event(n: int, prefix: str) -> NewInboxItem:
    return NewInboxItem(
        member_id="bench-portal",
        key=f"{prefix}:{n}",
        kind="ONIMBOTV2MESSAGEADD",
        payload={"message": {"id": n, "text": "Здравствуйте, где мой заказ №12345?"}, "chat": {"id": n % 97}},
        dialog_key=f"bench-portal:chat{n % 97}",
    )


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def report(label: str, latencies: list[float], wall: float) -> None:
    lat = sorted(latencies)
    print(
        f"{label:<28} {len(lat) / wall:>9,.0f} inserts/s   "
        f"p50 {percentile(lat, 0.50) * 1e3:6.2f} ms   p99 {percentile(lat, 0.99) * 1e3:6.2f} ms   "
        f"max {lat[-1] * 1e3:6.2f} ms   mean {statistics.fmean(lat) * 1e3:6.2f} ms"
    )


async def timed_add(store: SqlStore, item: NewInboxItem, latencies: list[float]) -> None:
    started = time.perf_counter()
    [is_new] = await store.inbox.add_many([item])
    latencies.append(time.perf_counter() - started)
    assert is_new


async def sequential(store: SqlStore, n: int) -> None:
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        await timed_add(store, event(i, "seq"), latencies)
    report("sequential", latencies, time.perf_counter() - started)


async def concurrent(store: SqlStore, n: int, tasks: int) -> None:
    latencies: list[float] = []

    async def one_task(t: int) -> None:
        for i in range(t, n, tasks):
            await timed_add(store, event(i, "conc"), latencies)

    started = time.perf_counter()
    await asyncio.gather(*(one_task(t) for t in range(tasks)))
    report(f"{tasks} concurrent tasks", latencies, time.perf_counter() - started)


async def duplicates(store: SqlStore, n: int) -> None:
    """Re-deliveries of already stored events (answered False, nothing written)."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        [is_new] = await store.inbox.add_many([event(i, "seq")])
        latencies.append(time.perf_counter() - t0)
        assert not is_new
    report("sequential duplicates", latencies, time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="events per run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--url", default="", help="database URL (default: a fresh SQLite file on tmp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="b24c-bench-") as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'inbox.db'}"
        print("conditions:")
        cores = os.cpu_count()
        print(f"  machine      {cores} cores (os.cpu_count), {platform.machine()}, {platform.system()}")
        print(f"  python       {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}")
        print(f"  sqlite       {sqlite3.sqlite_version}, WAL, synchronous=NORMAL")
        print(f"  database     {url}")
        print(f"  N            {args.n} single-event add_many calls per run, each awaited until committed")
        print("  sequential   one call at a time: one transaction per call")
        print(f"  concurrent   {args.concurrency} tasks; calls in flight share a commit (group commit)")
        store = await SqlStore.open(url)
        try:
            if store.db.dialect == "postgresql":
                async with store.engine.begin() as conn:
                    await conn.exec_driver_sql("DELETE FROM inbox WHERE member_id = 'bench-portal'")
            await store.inbox.add_many([event(-1, "warm-up")])
            print("figures:")
            await sequential(store, args.n)
            await concurrent(store, args.n, args.concurrency)
            await duplicates(store, min(args.n, 2000))
            print(f"  rows in inbox: {sum((await store.inbox.counts()).values())}")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
