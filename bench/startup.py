"""Benchmark: how long the CLI takes to answer, against the goals of issue 9.

    python bench/startup.py [--runs 7]

Each command runs in a new process, several times; the best run counts (start-up is what a user
waits for, and the best run is the least disturbed by other work on the machine). Goals:
`accord --help` under 0.3 s, catalog-only commands (`dataset list`, `connection list`) under 0.6 s.
The bare interpreter's start-up is measured in the same run, as the floor, and `accord sandbox list`,
a list that still opens the workspace (SQLAlchemy's ORM), as what the quick path spares.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_result

ACCORD = [sys.executable, "-c", "from accord.cli import main; main()"]
GOALS = {"--help": 0.3, "--version": 0.3, "dataset list": 0.6, "connection list": 0.6, "token list": 0.6}


def best_of(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = ["--home", str(Path(folder) / "home")]
        subprocess.run([*ACCORD, *home, "init"], capture_output=True, check=True)
        floor = best_of([sys.executable, "-c", "pass"], args.runs)
        figures = {}
        for command, goal in GOALS.items():
            seconds = best_of([*ACCORD, *home, *command.split()], args.runs)
            figures[command] = {"seconds": round(seconds, 3), "goal": goal, "ratio": round(seconds / goal, 2)}
            print(f"accord {command:<16} {seconds:6.3f} s   goal {goal} s   ratio {seconds / goal:.2f}")
        usual = best_of([*ACCORD, *home, "sandbox", "list"], args.runs)
    print(f"accord sandbox list     {usual:6.3f} s   (a list through the workspace and its ORM, for comparison)")
    print(f"python -c pass         {floor:6.3f} s   (the floor)")
    path = write_result("startup", {"runs": args.runs, "interpreterSeconds": round(floor, 3),
                                    "workspaceListSeconds": round(usual, 3), "commands": figures})  # fmt: skip
    print(f"written to {path}")


if __name__ == "__main__":
    main()
