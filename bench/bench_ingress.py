"""Events acknowledged per second and acknowledgement latency, over real HTTP, against a baseline.

The app runs as its own process (``b24claude serve``: SQLite WAL inbox, worker on), installed into
the portal emulator; ``wrk`` (C, one thread) posts classic ONIMBOTMESSAGEADD events — the wire form
of the reference fixture with a valid application token, a unique MESSAGE_ID and the current ``ts``
per request, spread over 200 chats. A 200 means the event was durably committed to the inbox first.
The events are operator messages, so the worker stores, claims and ignores them (no Claude or REST
calls). The per-portal ingress limit (B24C_INGRESS_RATE_PER_S, 50/s burst 500 by default) is lifted
for the run so that the service itself is measured, and said so.

In the same run, the same load goes to a bare Starlette receiver doing the same durable insert
(bench/bare_receiver.py): the ratio is the figure to watch on a noisy machine.

The run fails (exit 1, no figure) when any request was refused or errored, or when the inbox holds
fewer rows than the requests acknowledged: a rate of errors is not a rate.

    .venv/bin/python -m bench.bench_ingress [--seconds 10] [--connections 32]
    (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import httpx
from tests.conftest import load_fixture

from b24claude.cli.runtime import free_port
from b24claude.cli.stack import SandboxStack
from b24claude.kit import phpform
from bench.common import machine

LUA = """
local counter = 0
local threads = 0
function setup(thread)
  thread:set("base", 10000000 * (threads + 1))
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local body = TEMPLATE:gsub("MSGIDXX", tostring(base + counter)):gsub("DLGXX", tostring(900000 + counter % 200))
  body = body:gsub("TSXX", tostring(os.time()))
  return wrk.format("POST", "/b24/events", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _script(member_id: str, token: str) -> str:
    body = copy.deepcopy(load_fixture("ONIMBOTMESSAGEADD_openlines.json")["body"])
    body["auth"]["member_id"] = member_id
    body["auth"]["application_token"] = token
    body["data"]["USER"]["IS_CONNECTOR"] = "N"
    body["data"]["PARAMS"]["MESSAGE_ID"] = "MSGIDXX"
    body["data"]["PARAMS"]["DIALOG_ID"] = "chatDLGXX"
    body["ts"] = "TSXX"  # the replay window refuses an old ts: each request carries the current one
    return f"TEMPLATE = {_lua_string(phpform.encode(body))}\n" + LUA


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def _wrk(url: str, script: str, seconds: int, connections: int) -> dict[str, float]:
    warm = ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", script, url]
    await asyncio.to_thread(subprocess.run, warm, capture_output=True, check=True)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url]
    out = (await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, check=True)).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {m[0]: _ms(m[1], m[2]) for m in re.findall(r"\s(50|90|99)%\s+([\d.]+)(us|ms|s)", out)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "ack_per_s": rps,
        "p50_ms": pct.get("50", 0.0),
        "p90_ms": pct.get("90", 0.0),
        "p99_ms": pct.get("99", 0.0),
        "requests": float(total.group(1)) if total else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }


def _stored_rows(database_url: str) -> int:
    path = database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM inbox WHERE kind = 'ONIMBOTMESSAGEADD'").fetchone()[0])


def _check(name: str, r: dict[str, float], stored: int, warm_and_run: int) -> None:
    """Refuse to report a rate of refusals: every request 2xx, every acknowledged event stored."""
    problems = []
    if r["non_2xx"] or r["socket_errors"]:
        problems.append(f"{r['non_2xx']:.0f} non-2xx responses, {r['socket_errors']:.0f} socket errors")
    if stored < warm_and_run:
        problems.append(f"{stored} events stored for {warm_and_run} acknowledged")
    if problems:
        raise SystemExit(f"bench_ingress FAILED ({name}): " + "; ".join(problems))


async def _product(seconds: int, connections: int) -> dict[str, float]:
    stack = SandboxStack(bot_api="v1")
    await stack.start(install=False)
    await stack.stop_app()
    proc = stack.spawn_app_process({"B24C_INGRESS_RATE_PER_S": "0"})
    try:
        await stack.wait_app_http()
        await stack.install()
        token = next(iter(stack.portal.apps.values())).application_token
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(_script(stack.member_id, token))
        before = _stored_rows(stack.settings.database_url)
        r = await _wrk(stack.app_url, f.name, seconds, connections)
        os.unlink(f.name)
        return {**r, "stored": float(_stored_rows(stack.settings.database_url) - before)}
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await stack.stop()


def _spawn_bare(url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.bare_receiver", url, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _bare(seconds: int, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="b24c-bare-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bare.db"
        port = free_port()
        proc = _spawn_bare(url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as http:
                for _ in range(200):
                    try:
                        await http.post(f"{base}/b24/events", content=b"auth[member_id]=probe")
                        break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(_script("3f6c1b2e9a7d4c5e8b0a1f2d3c4b5a69", "t" * 32))
            before = _stored_rows(url)
            r = await _wrk(base, f.name, seconds, connections)
            os.unlink(f.name)
            return {**r, "stored": float(_stored_rows(url) - before)}
        finally:
            proc.kill()
            proc.wait(timeout=10)


async def main(seconds: int, connections: int) -> dict[str, dict[str, float]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    product = await _product(seconds, connections)
    bare = await _bare(seconds, connections)
    for name, r in (("b24claude serve", product), ("bare receiver", bare)):
        # The warm-up's requests are stored too: at least as many rows as the measured requests.
        _check(name, r, int(r["stored"]), int(r["requests"]))
    return {"product": product, "bare": bare}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    out = asyncio.run(main(args.seconds, args.connections))
    p, b = out["product"], out["bare"]
    print(f"bench_ingress: {machine()}")
    print(
        f"  conditions: one process each, SQLite WAL inbox, wrk -t1 -c{args.connections} -d{args.seconds}s "
        f"over loopback; per-portal ingress limit lifted (B24C_INGRESS_RATE_PER_S=0); every request 2xx "
        f"and stored ({p['requests']:.0f} and {b['requests']:.0f} distinct events)"
    )
    for name, r in (
        ("b24claude serve (verify, parse, store; worker on)", p),
        ("bare receiver (store only)", b),
    ):
        print(
            f"  {name}: {r['ack_per_s']:.0f}/s   p50 {r['p50_ms']:.1f} ms   p90 {r['p90_ms']:.1f} ms   "
            f"p99 {r['p99_ms']:.1f} ms"
        )
    print(f"  ratio b24claude / bare: {p['ack_per_s'] / b['ack_per_s']:.2f}")
