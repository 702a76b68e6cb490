"""Benchmark (part of issue 4's `bench/profile.py`, still to come): building the identity graphs.

    python bench/identity_graph.py [--people 1000000]

About 3 identities per person over 3 profile datasets, with overlaps and 5 % shared household
e-mails: a CRM export (CRMID, e-mail), web profiles (ECID, e-mail for 70 %), loyalty (CRMID,
phone). Measured: the full graph build; in the same run, networkx connected components on the
same links (the ceiling the issue names). Goal: under 20 s for 1,000,000 people.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, run_isolated, write_result

GENERATE = """
import duckdb
def main(folder, people):
    n = int(people)
    con = duckdb.connect()
    email = "CASE WHEN i % 20 = 0 THEN 'household' || (i // 40) || '@x.io' ELSE 'p' || i || '@x.io' END"
    con.execute(f"COPY (SELECT 'C' || i AS crm, {email} AS email FROM range({n}) t(i)) TO '{folder}/crm.csv' (HEADER)")
    con.execute(f"COPY (SELECT lpad(i::VARCHAR, 38, '0') AS ecid, CASE WHEN i % 10 < 7 THEN {email} END AS email "
                f"FROM range({n}) t(i)) TO '{folder}/web.csv' (HEADER)")
    con.execute(f"COPY (SELECT 'C' || i AS crm, '+1' || (2000000000 + i)::VARCHAR AS phone FROM range({n}) t(i)) "
                f"TO '{folder}/loyalty.csv' (HEADER)")
    return {"seconds": time.perf_counter()}
"""

BUILD = """
from pathlib import Path
def main(home, folder, unique):
    from accord import identity, lake, schema
    from accord.ingest import IngestRequest, ingest_file, parse_mapping
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise
    settings = Settings(home=Path(home), scheduler=False)
    initialise(settings)
    ws = Workspace.open(settings)
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"crm": {"type": "string"}, "ecid": {"type": "string"}}}}})
        for name, groups, ids in [
            ("crm", ["personal-contact-details", "ids"], [("_tenant.crm", "CRMID"), ("personalEmail.address", "Email")]),
            ("web", ["personal-contact-details", "ids"], [("_tenant.ecid", "ECID"), ("personalEmail.address", "Email")]),
            ("loyalty", ["personal-contact-details", "ids"], [("_tenant.crm", "CRMID"), ("mobilePhone.number", "Phone_E164")]),
        ]:
            schema.create_schema(s, "prod", {"name": name, "class": "profile", "fieldGroups": groups,
                                             "identities": [{"path": p, "namespace": n} for p, n in ids]})
            lake.create_dataset(s, "prod", name, name, profile_enabled=True)
        if unique:
            identity.set_rules(s, "prod", unique.split(","), None)
    mappings = {
        "crm": [("crm", "_tenant.crm"), ("email", "personalEmail.address")],
        "web": [("ecid", "_tenant.ecid"), ("email", "personalEmail.address")],
        "loyalty": [("crm", "_tenant.crm"), ("phone", "mobilePhone.number")],
    }
    for name, pairs in mappings.items():
        mapping = parse_mapping({"mappings": [{"source": a, "destination": b} for a, b in pairs]})
        ingest_file(ws, "prod", IngestRequest(name, Path(folder) / f"{name}.csv", mapping))
    start = time.perf_counter()
    summary = identity.build_graph(ws, "prod")
    seconds = time.perf_counter() - start
    links = str(next(Path(home).glob("lake/*/identity/links.parquet")))
    return {"seconds": seconds, "identities": summary.identities, "graphs": summary.graphs,
            "largest": summary.largest, "links": summary.links, "linksFile": links}
"""

CEILING = """
def main(links):
    import networkx, pyarrow.parquet as pq
    table = pq.read_table(links, columns=["a", "b"])
    start = time.perf_counter()
    graph = networkx.Graph()
    graph.add_edges_from(zip(table["a"].to_pylist(), table["b"].to_pylist()))
    components = networkx.number_connected_components(graph)
    return {"seconds": time.perf_counter() - start, "components": components}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--unique", default="CRMID", help="Unique namespaces (comma-separated; '' for none).")
    args = parser.parse_args()
    folder = DATA / f"people_{args.people}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "loyalty.csv").exists():
        run_isolated(GENERATE, str(folder), str(args.people))
    home = Path(tempfile.mkdtemp(prefix="accord-graph-"))
    try:
        built = run_isolated(BUILD, str(home), str(folder), args.unique)
        ceiling = run_isolated(CEILING, built["linksFile"])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result = {
        "people": args.people,
        "uniqueNamespaces": args.unique.split(",") if args.unique else [],
        "graphBuild": {k: built[k] for k in ("seconds", "identities", "links", "graphs", "largest")}
        | {"peakRssMb": built["peak_rss_mb"]},
        "ceiling": {"what": "networkx: build the graph from the same links and count components",
                    "seconds": round(ceiling["seconds"], 2), "components": ceiling["components"]},
        "goal": {"seconds": 20, "met": built["seconds"] < 20},
    }  # fmt: skip
    path = write_result("identity_graph", result)
    print(
        f"graph build: {built['identities']:,} identities, {built['links']:,} links, {built['graphs']:,} graphs "
        f"(largest {built['largest']}) in {built['seconds']:.1f} s (goal < 20 s), peak {built['peak_rss_mb']:,.0f} MB"
    )
    print(f"networkx on the same links: {ceiling['seconds']:.1f} s -> {path}")


if __name__ == "__main__":
    main()
