"""Run every benchmark with the settings whose figures are in the README."""

from __future__ import annotations

import subprocess
import sys
import time

RUNS = [
    ["-m", "bench.bench_inbox"],
    ["-m", "bench.bench_ingress"],
    ["-m", "bench.bench_answer", "--rate", "1000", "--burst", "5000", "--parallel", "1", "--customers", "15"],
    ["-m", "bench.bench_answer"],
    ["-m", "bench.bench_answer", "--bot-api", "v1"],
    ["-m", "bench.bench_pii"],
]

if __name__ == "__main__":
    for args in RUNS:
        print(f"$ python {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, *args], check=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "b24claude.cli.main", "demo", "--quiet"], check=True)
    print(f"b24claude demo: {time.perf_counter() - t0:.1f} s wall time, including start-up")
