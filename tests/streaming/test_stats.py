"""The figures of a home's processes: each publishes its own, a reader sums them, and the file of a process
that was killed is removed by the next reader (real processes, killed for real)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from accord.streaming import stats

PUBLISHER = """
import sys, time
from pathlib import Path
from accord.streaming import stats
stats.publish(Path(sys.argv[1]), {"accepted": int(sys.argv[2]), "processed": 3,
                                  "ackMilliseconds": {"p50": 1.0, "p99": float(sys.argv[3])}})
print("published", flush=True)
time.sleep(600)
"""


def test_figures_of_live_processes_are_summed_and_a_killed_ones_removed(tmp_path: Path) -> None:
    started = []
    for accepted, p99 in ((5, 9.0), (7, 30.0)):
        process = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(tmp_path), str(accepted), str(p99)],
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert process.stdout is not None and process.stdout.readline().strip() == "published"
        started.append(process)
    try:
        own = {"accepted": 1, "processed": 0, "ackMilliseconds": {"p50": 2.0, "p99": 4.0}}
        both = stats.combined(own, stats.others(tmp_path))
        assert (both["accepted"], both["processed"], both["processes"]) == (13, 6, 3)
        assert both["ackMilliseconds"] == {"p50": 2.0, "p99": 30.0}  # the slowest process's
        os.kill(started[1].pid, signal.SIGKILL)
        started[1].wait(10)
        left = stats.others(tmp_path)
        assert [f["pid"] for f in left] == [started[0].pid]
        assert sorted(p.name for p in (tmp_path / stats.FOLDER).iterdir()) == [
            f"{left[0]['host']}-{left[0]['pid']}.json"
        ]
    finally:
        for process in started:
            process.kill()
            process.communicate(timeout=10)  # closes its pipe
    assert stats.others(tmp_path) == [] and not list((tmp_path / stats.FOLDER).iterdir())
