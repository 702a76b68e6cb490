"""Benchmark (issue 4): identity graphs, profile merge and profile lookups at scale.

    python bench/profile.py [--people 1000000] [--events 10000000] [--lookups 10000]

A run at another size is recorded beside the default one (`sizes` in bench/results/profile.json).

People have about 3 identities each over 3 profile datasets, with overlaps and 5 % shared household
e-mails (CRMID is unique, so households do not collapse): a CRM export (CRMID, e-mail, first name,
city), web profiles (ECID, e-mail for 70 %, city for half), loyalty (CRMID, phone, tier, a newer first
name for 30 %); and experience events on the web cookie (ECID), spread over 90 days.
Measured: the full identity graph build, the full profile merge (the profile store: fragments,
events, merged profiles, identities), lookup latency by a random identity (p50, p99), peak memory.
Ceilings in the same run: networkx connected components on the same links, and one hand-written
DuckDB query doing the merge. Goals: graph < 20 s, merge < 30 s, lookup p99 < 10 ms, memory < 6 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, run_isolated, write_result
from bench.identity_graph import CEILING as NETWORKX

GENERATE = """
import duckdb
def main(folder, people, events):
    n, m = int(people), int(events)
    con = duckdb.connect()
    email = "CASE WHEN i % 20 = 0 THEN 'household' || (i // 40) || '@x.io' ELSE 'p' || i || '@x.io' END"
    city = "['Paris', 'Oslo', 'Lima', 'Pune', 'Kyiv'][1 + i % 5]"
    con.execute(f"COPY (SELECT 'C' || i AS crm, {email} AS email, 'First' || (i % 5000) AS first, {city} AS city "
                f"FROM range({n}) t(i)) TO '{folder}/crm.csv' (HEADER)")
    con.execute(f"COPY (SELECT lpad(i::VARCHAR, 38, '0') AS ecid, CASE WHEN i % 10 < 7 THEN {email} END AS email, "
                f"CASE WHEN i % 2 = 0 THEN 'Web' || {city} END AS city FROM range({n}) t(i)) "
                f"TO '{folder}/web.csv' (HEADER)")
    con.execute(f"COPY (SELECT 'C' || i AS crm, '+1' || (2000000000 + i)::VARCHAR AS phone, "
                f"['gold', 'silver', 'bronze'][1 + i % 3] AS tier, CASE WHEN i % 10 < 3 THEN 'Newer' || i END AS first "
                f"FROM range({n}) t(i)) TO '{folder}/loyalty.csv' (HEADER)")
    con.execute(f"COPY (SELECT 'E' || j AS id, lpad(((j * 7919) % {n})::VARCHAR, 38, '0') AS ecid, "
                f"TIMESTAMPTZ '2026-11-01 00:00:00+00' - to_seconds(j % 7776000) AS ts, "
                f"['commerce.purchases', 'commerce.productViews', 'web.webpagedetails.pageViews'][1 + j % 3] AS type, "
                f"CASE WHEN j % 3 = 0 THEN round(10 + (j % 500) * 1.5, 2) END AS price "
                f"FROM range({m}) t(j)) TO '{folder}/events.csv' (HEADER)")
    return {}
"""

BUILD = """
from pathlib import Path
def main(home, folder):
    from accord import identity, lake, profile, schema
    from accord.ingest import IngestRequest, ingest_file, parse_mapping
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise
    settings = Settings(home=Path(home), scheduler=False)
    initialise(settings)
    ws = Workspace.open(settings)
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile", "experienceevent"],
            "fields": {"_tenant": {"type": "object", "properties": {"crm": {"type": "string"},
                       "ecid": {"type": "string"}, "tier": {"type": "string"}}}}})
        profile_groups = ["personal-contact-details", "demographic-details", "ids"]
        for name, ids in [
            ("crm", [("_tenant.crm", "CRMID"), ("personalEmail.address", "Email")]),
            ("web", [("_tenant.ecid", "ECID"), ("personalEmail.address", "Email")]),
            ("loyalty", [("_tenant.crm", "CRMID"), ("mobilePhone.number", "Phone_E164")]),
        ]:
            schema.create_schema(s, "prod", {"name": name, "class": "profile", "fieldGroups": profile_groups,
                                             "identities": [{"path": p, "namespace": n} for p, n in ids]})
            lake.create_dataset(s, "prod", name, name, profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "events", "class": "experienceevent",
                                         "fieldGroups": ["ids", "commerce-details"],
                                         "identities": [{"path": "_tenant.ecid", "namespace": "ECID"}]})
        lake.create_dataset(s, "prod", "events", "events", profile_enabled=True)
        identity.set_rules(s, "prod", ["CRMID"], None)
    mappings = {
        "crm": [("crm", "_tenant.crm"), ("email", "personalEmail.address"), ("first", "person.name.firstName"),
                ("city", "homeAddress.city")],
        "web": [("ecid", "_tenant.ecid"), ("email", "personalEmail.address"), ("city", "homeAddress.city")],
        "loyalty": [("crm", "_tenant.crm"), ("phone", "mobilePhone.number"), ("tier", "_tenant.tier"),
                    ("first", "person.name.firstName")],
        "events": [("ecid", "_tenant.ecid"), ("ts", "timestamp"), ("type", "eventType"),
                   ("price", "commerce.order.priceTotal"), ("id", "_id")],
    }
    for name, pairs in mappings.items():
        rules = [{"source": a, "destination": b} for a, b in pairs]
        mapping = parse_mapping({"mappings": rules})
        ingest_file(ws, "prod", IngestRequest(name, Path(folder) / f"{name}.csv", mapping))
    start = time.perf_counter()
    graphs = identity.build_graph(ws, "prod")
    graph_seconds = time.perf_counter() - start
    start = time.perf_counter()
    merged = profile.build_profiles(ws, "prod")
    merge_seconds = time.perf_counter() - start
    lake_root = str(next(Path(home).glob("lake/*/identity")).parent)
    with ws.catalog.session() as s:
        ids = {name: lake.get_dataset(s, "prod", name)["id"] for name in ("crm", "web", "loyalty")}
    return {"graphSeconds": graph_seconds, "mergeSeconds": merge_seconds, "graph": graphs.to_document(),
            "profiles": merged.to_document(), "sandboxFolder": lake_root, "datasets": ids}
"""

LOOKUPS = """
import random
from pathlib import Path
def main(home, people, count):
    from accord import profile
    from accord.settings import Settings
    from accord.workspace import Workspace
    ws = Workspace.open(Settings(home=Path(home), scheduler=False))
    rng = random.Random(7)
    n = int(people)
    def pick():
        i = rng.randrange(n)
        kind = rng.randrange(3)
        if kind == 0:
            return "CRMID", f"C{i}"
        if kind == 1:
            return "ECID", str(i).rjust(38, "0")
        return "Phone_E164", f"+1{2000000000 + i}"
    start = time.perf_counter()
    first = profile.get_profile(ws, "prod", *pick())  # opens the store (memory-mapped) once
    open_seconds = time.perf_counter() - start
    assert first["readFrom"] == "store", first["readFrom"]
    timings, events = [], 0
    for _ in range(int(count)):
        ns, value = pick()
        start = time.perf_counter()
        found = profile.get_profile(ws, "prod", ns, value)
        timings.append(time.perf_counter() - start)
        events += found["events"]["total"]
    timings.sort()
    return {"openSeconds": open_seconds, "p50Ms": timings[len(timings) // 2] * 1000,
            "p99Ms": timings[int(len(timings) * 0.99)] * 1000, "maxMs": timings[-1] * 1000,
            "meanEvents": events / len(timings), "sample": first["attributes"]}
"""

HAND_MERGE = """
def main(sandbox_folder, crm, web, loyalty):
    import duckdb
    con = duckdb.connect()
    columns = {  # the attributes each dataset holds
        crm: "personalEmail.address AS email, person.name.firstName AS first, homeAddress.city AS city, "
             "_tenant.crm AS crm",
        web: "personalEmail.address AS email, homeAddress.city AS city, _tenant.ecid AS ecid",
        loyalty: "mobilePhone.number AS phone, _tenant.crm AS crm, _tenant.tier AS tier, "
                 "person.name.firstName AS first",
    }
    def batches(dataset, rank):
        path = f"{sandbox_folder}/datasets/{dataset}/*/*.parquet"
        return (f"SELECT {rank} AS rank, regexp_extract(filename, 'batch=([0-9a-f]+)', 1) || '/' || "
                f"regexp_extract(filename, '([^/]+)[.]parquet$', 1) || '/' || file_row_number AS record, "
                f"{columns[dataset]} FROM read_parquet('{path}', filename = true, file_row_number = true)")
    fragments = " UNION ALL BY NAME ".join(batches(d, r) for r, d in enumerate([crm, web, loyalty]))
    merged = ", ".join(f"arg_max({c}, (rank, record)) FILTER ({c} IS NOT NULL) AS {c}"
                       for c in ("email", "first", "city", "phone", "crm", "ecid", "tier"))
    start = time.perf_counter()
    con.execute(f"COPY (SELECT graph, {merged} FROM ({fragments}) f "
                f"JOIN read_parquet('{sandbox_folder}/identity/records.parquet') r USING (record) GROUP BY graph) "
                f"TO '{sandbox_folder}/hand_merge.parquet' (FORMAT parquet)")
    seconds = time.perf_counter() - start
    rows = con.execute(f"SELECT count(*) FROM '{sandbox_folder}/hand_merge.parquet'").fetchone()[0]
    return {"seconds": seconds, "profiles": rows}
"""


PEOPLE, EVENTS = 1_000_000, 10_000_000


def prepared_data(people: int, events: int) -> Path:
    """The seeded files of `people` and `events` (made once, kept under bench/data for the next run)."""
    folder = DATA / f"profile_{people}_{events}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "events.csv").exists():
        run_isolated(GENERATE, str(folder), str(people), str(events))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--lookups", type=int, default=10_000)
    args = parser.parse_args()
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    folder = prepared_data(args.people, args.events)
    home = Path(tempfile.mkdtemp(prefix="accord-profile-"))
    try:
        built = run_isolated(BUILD, str(home), str(folder))
        lookups = run_isolated(LOOKUPS, str(home), str(args.people), str(args.lookups))
        links = str(Path(built["sandboxFolder"]) / "identity" / "links.parquet")
        networkx = run_isolated(NETWORKX, links)
        ids = built["datasets"]
        hand = run_isolated(HAND_MERGE, built["sandboxFolder"], ids["crm"], ids["web"], ids["loyalty"])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    memory_mb = max(built["peak_rss_mb"], lookups["peak_rss_mb"])
    goals = {
        "graphUnder20s": built["graphSeconds"] < 20,
        "mergeUnder30s": built["mergeSeconds"] < 30,
        "lookupP99Under10ms": lookups["p99Ms"] < 10,
        "memoryUnder6GB": memory_mb < 6144,
    }
    result = {
        "loadAverageAtStart": load_at_start, "people": args.people, "events": args.events, "lookups": args.lookups,
        "graphBuild": {"seconds": round(built["graphSeconds"], 2), **built["graph"]},
        "profileMerge": {"seconds": round(built["mergeSeconds"], 2), **built["profiles"]},
        "lookup": {k: round(v, 3) for k, v in lookups.items() if k.endswith(("Ms", "Seconds"))}
        | {"meanEvents": round(lookups["meanEvents"], 1), "peakRssMb": lookups["peak_rss_mb"]},
        "peakRssMb": {"build": built["peak_rss_mb"], "lookups": lookups["peak_rss_mb"]},
        "ceilings": {
            "networkx": {"what": "networkx connected components on the same links", "seconds": round(
                networkx["seconds"], 2), "ratio": round(built["graphSeconds"] / networkx["seconds"], 2)},
            "handMerge": {"what": "one hand-written DuckDB query merging the profile datasets (7 attributes)",
                          "seconds": round(hand["seconds"], 2), "profiles": hand["profiles"],
                          "ratio": round(built["mergeSeconds"] / hand["seconds"], 2)},
        },
        "goals": goals,
    }  # fmt: skip
    default = (args.people, args.events) == (PEOPLE, EVENTS)
    path = write_result("profile", result, None if default else f"{args.people} people, {args.events} events")
    print(f"graph build: {built['graphSeconds']:.1f} s (goal < 20 s; networkx on the same links "
          f"{networkx['seconds']:.1f} s); {built['graph']['identities']:,} identities in {built['graph']['graphs']:,} "
          f"graphs")  # fmt: skip
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in built["profiles"]["steps"].items())
    print(f"profile merge: {built['mergeSeconds']:.1f} s ({steps}; partitions {built['profiles']['partitions']}; "
          f"goal < 30 s; hand-written DuckDB merge {hand['seconds']:.1f} s)")  # fmt: skip
    print(
        f"lookups: p50 {lookups['p50Ms']:.2f} ms, p99 {lookups['p99Ms']:.2f} ms (goal < 10 ms), "
        f"{lookups['meanEvents']:.1f} events per profile; peak memory {memory_mb:,.0f} MB (goal < 6 GB)"
    )
    print(f"goals: {goals} -> {path}")


if __name__ == "__main__":
    main()
