"""Shared bits of the benchmark scripts: the machine line, percentiles."""

from __future__ import annotations

import os
import platform
import sys


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    python = sys.version.split()[0]
    return f"{os.cpu_count()} cores ({cpu or platform.processor()}), Python {python}, {platform.system()}"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else 0.0
