"""Shared by the benchmarks: timing in a fresh process, peak memory, results as JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"


def run_isolated(code: str, *args: str) -> dict[str, Any]:
    """Run a snippet in a new interpreter; it prints one JSON line with its timings and peak RSS."""
    # The peak is the process's own (VmHWM): getrusage's ru_maxrss also counts the parent's resident size at
    # the fork that started it, so a large parent (one that built a CDP first) would inflate every figure.
    wrapper = (
        "import json, resource, sys, time\n"
        f"{code}\n"
        "result = main(*sys.argv[1:])\n"
        "def _peak():\n"
        "    try:\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith('VmHWM:'):\n"
        "                return int(line.split()[1]) / 1024\n"
        "    except OSError:\n"
        "        pass\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "result['peak_rss_mb'] = round(_peak(), 1)\n"
        "print(json.dumps(result))\n"
    )
    completed = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_result(name: str, result: dict[str, Any], size: str | None = None) -> Path:
    """Write a benchmark's figures; a run at another size than the default (`size` names it) is kept
    beside them, under `sizes`, and a run at the default size keeps the others' figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    stamped = {
        "recordedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadAverageAtEnd": [round(load, 2) for load in os.getloadavg()],  # 1, 5 and 15 minutes
        **result,
    }
    if size is None:
        document = {"benchmark": name, **stamped, "sizes": previous.get("sizes", {})}
    else:
        document = previous | {"benchmark": name, "sizes": previous.get("sizes", {}) | {size: stamped}}
    if not document["sizes"]:
        del document["sizes"]
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
