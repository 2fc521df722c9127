"""Events acknowledged per second and acknowledgement latency, over real HTTP.

The app runs as its own process (``b24claude serve``: SQLite WAL inbox, worker on), installed into
the portal emulator; ``wrk`` (C, one thread) posts classic ONIMBOTMESSAGEADD events — the wire form
of the reference fixture with a valid application token and a unique MESSAGE_ID per request, spread
over 200 chats. A 200 means the event was durably committed to the inbox first. The events are
operator messages, so the worker stores, claims and ignores them (no Claude or REST calls).

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
import subprocess
import tempfile

from tests.conftest import load_fixture

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
    return f"TEMPLATE = {_lua_string(phpform.encode(body))}\n" + LUA


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def main(seconds: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    stack = SandboxStack(bot_api="v1")
    await stack.start(install=False)
    await stack.stop_app()
    proc = stack.spawn_app_process()
    try:
        await stack.wait_app_http()
        await stack.install()
        token = next(iter(stack.portal.apps.values())).application_token
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(_script(stack.member_id, token))
        warm = ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", f.name, stack.app_url]
        await asyncio.to_thread(subprocess.run, warm, capture_output=True, check=True)
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, stack.app_url]
        out = (
            await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, check=True)
        ).stdout
        os.unlink(f.name)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        pct = {m[0]: _ms(m[1], m[2]) for m in re.findall(r"\s(50|90|99)%\s+([\d.]+)(us|ms|s)", out)}
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        total = re.search(r"(\d+) requests in", out)
        return {
            "ack_per_s": rps,
            "p50_ms": pct.get("50", 0.0),
            "p90_ms": pct.get("90", 0.0),
            "p99_ms": pct.get("99", 0.0),
            "requests": float(total.group(1)) if total else 0.0,
            "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        }
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await stack.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    r = asyncio.run(main(args.seconds, args.connections))
    print(f"bench_ingress: {machine()}")
    print(
        f"  conditions: one `b24claude serve` process (SQLite WAL inbox, worker on), wrk -t1 "
        f"-c{args.connections} -d{args.seconds}s over loopback, {r['requests']:.0f} distinct events"
    )
    print(
        f"  acknowledged/s: {r['ack_per_s']:.0f}   latency p50 {r['p50_ms']:.1f} ms   "
        f"p90 {r['p90_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   non-2xx: {r['non_2xx']:.0f}"
    )
