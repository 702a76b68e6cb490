"""Benchmark: batch ingestion of a realistic CRM CSV against DuckDB's own CSV-to-Parquet (the ceiling).

    python bench/ingest.py [--rows 5000000] [--repeat 2]

Two files of 12 columns: a clean one, and one with about 0.1 % defective rows (a bad email, an
impossible date, a negative number), as real exports have; the mapping fills 8 fields from columns
and 2 calculated fields, with validation on (types, formats, enums, patterns, required, minimum).
Accord and the ceiling each run in a fresh process (peak memory is theirs alone), the four runs
interleaved in each round so that a busy machine weighs on all alike; the best run of each is kept.
Every defective row must be reported at its exact line and record number. Goal: Accord at 50 % of
the ceiling's rows/s or better on both files, with memory bounded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, run_isolated, write_result

MAPPING = """mappings:
  - source: customer_id
    destination: _tenant.crmId
  - source: first_name
    destination: person.name.firstName
  - source: last_name
    destination: person.name.lastName
  - source: email
    destination: personalEmail.address
  - source: phone
    destination: mobilePhone.number
  - source: birth_date
    destination: person.birthDate
  - source: gender
    destination: person.gender
  - source: loyalty_points
    destination: _tenant.loyalty.points
  - expression: concat(first_name, " ", last_name)
    destination: person.name.fullName
  - expression: upper(country)
    destination: homeAddress.countryCode
"""

GENERATE = """
import duckdb
def main(path, rows, defects):
    d = 1 if defects == "yes" else 0
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    first = ['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth','Sofia',
             'Lucas','Emma','Noah','Olivia','Liam','Ava','Mateo','Chloe','Hugo','Léa','Zoë','Björn','Ana']
    last = ['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez','Müller',
            "O'Brien",'Dubois','Rossi','Nguyen','Kim','Silva','Novak','Kowalski','Jensen']
    cities = ['Springfield','Riverside','Franklin','Greenville','Bristol','Clinton','Fairview','Salem','Madison','Paris']
    con.execute(f'''
    COPY (
      SELECT
        'C' || lpad(i::VARCHAR, 9, '0') AS customer_id,
        list_extract($first, 1 + (hash(i) % {len(first)})::INT) AS first_name,
        list_extract($last, 1 + (hash(i * 7) % {len(last)})::INT) AS last_name,
        CASE WHEN {d} = 1 AND i % 2003 = 7 THEN 'unknown' ELSE lower(list_extract($first, 1 + (hash(i) % {len(first)})::INT))
             || '.' || i || '@' || list_extract(['gmail.com','yahoo.com','example.org','mail.fr'], 1 + (i % 4)::INT) END AS email,
        '+1' || (2000000000 + hash(i * 13) % 7999999999)::VARCHAR AS phone,
        CASE WHEN {d} = 1 AND i % 3001 = 11 THEN '1980-02-31'
             ELSE strftime(DATE '1940-01-01' + (hash(i * 3) % 25000)::INT, '%Y-%m-%d') END AS birth_date,
        list_extract(['male','female','not_specified','female','male'], 1 + (i % 5)::INT) AS gender,
        (hash(i * 17) % 9000)::VARCHAR || ' ' || list_extract(['Main St','Oak Ave','Pine Rd','Elm St'], 1 + (i % 4)::INT) AS street,
        list_extract($cities, 1 + (hash(i * 5) % {len(cities)})::INT) AS city,
        list_extract(['us','fr','de','gb','ca'], 1 + (i % 5)::INT) AS country,
        strftime(TIMESTAMP '2020-01-01' + to_seconds((hash(i * 11) % 150000000)::BIGINT), '%Y-%m-%dT%H:%M:%SZ') AS created_at,
        CASE WHEN {d} = 1 AND i % 4999 = 3 THEN '-5' ELSE (hash(i * 19) % 50000)::VARCHAR END AS loyalty_points
      FROM range(1, $rows + 1) t(i)
    ) TO '{path}' (HEADER, DELIMITER ',')''', {"first": first, "last": last, "cities": cities, "rows": int(rows)})
    return {"seconds": time.perf_counter() - start}
"""

CEILING = """
import duckdb, tempfile, os
def main(path, out):
    con = duckdb.connect(config={"memory_limit": "4GB"})
    start = time.perf_counter()
    rows = con.execute(f"COPY (SELECT * FROM read_csv('{path}')) TO '{out}' (FORMAT parquet)").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "rows": rows}
"""

ACCORD = """
from pathlib import Path
def main(path, mapping, home):
    from accord import lake, schema
    from accord.ingest import IngestRequest, ingest_file, load_mapping
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise
    import shutil
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=Path(home), duckdb_memory_limit="4GB")
    initialise(settings)
    ws = Workspace.open(settings)
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "crm-ids", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"crmId": {"type": "string", "required": True, "pattern": "^C[0-9]+$"},
            "loyalty": {"type": "object", "properties": {"points": {"type": "integer", "minimum": 0}}}}}}})
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "demographic-details", "personal-contact-details", "crm-ids"]})
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
    start = time.perf_counter()
    batch = ingest_file(ws, "prod", IngestRequest("crm", Path(path), load_mapping(Path(mapping))))
    seconds = time.perf_counter() - start
    found = [(e["lineNumber"], e["rowNumber"]) for e in lake.batch_errors(ws, "prod", batch["id"])]
    return {"seconds": seconds, "status": batch["status"], "input": batch["inputRecordCount"],
            "output": batch["outputRecordCount"], "failed": batch["failedRecordCount"], "found": found}
"""


def defective_rows(rows: int) -> list[int]:
    """The generator's defective rows (1-based, as `i` in GENERATE): each is at line i + 1, after the header."""
    return [i for i in range(1, rows + 1) if i % 2003 == 7 or i % 3001 == 11 or i % 4999 == 3]


def numbers_exact(run: dict[str, Any], expected_rows: list[int]) -> bool:
    """Whether every defective row, and nothing else, is reported at its exact line and record number."""
    return sorted(tuple(f) for f in run["found"]) == [(i + 1, i) for i in expected_rows]


def measure(files: dict[str, Path], mapping: Path, repeat: int, rows: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {"accord": [], "ceiling": []} for case in files}
    for attempt in range(repeat):
        for case, csv_path in files.items():
            ceiling = run_isolated(CEILING, str(csv_path), str(DATA / "ceiling.parquet"))
            accord = run_isolated(ACCORD, str(csv_path), str(mapping), str(DATA / "accord-home"))
            runs[case]["ceiling"].append(ceiling)
            runs[case]["accord"].append(accord)
            print(
                f"  round {attempt + 1}, {case}: ceiling {ceiling['seconds']:.2f} s, accord {accord['seconds']:.2f} s "
                f"({accord['status']}, {accord['failed']:,} rows failed), ratio {ceiling['seconds'] / accord['seconds']:.3f}",
                flush=True,
            )
    return {case: _figures(files[case], runs[case], [] if case == "clean" else defective_rows(rows)) for case in files}


def _figures(csv_path: Path, runs: dict[str, list[dict[str, Any]]], expected_rows: list[int]) -> dict[str, Any]:
    accord_runs, ceiling_runs = runs["accord"], runs["ceiling"]
    best_accord = min(accord_runs, key=lambda r: r["seconds"])
    best_ceiling = min(ceiling_runs, key=lambda r: r["seconds"])
    rows = best_accord["input"]
    accord_rate, ceiling_rate = rows / best_accord["seconds"], best_ceiling["rows"] / best_ceiling["seconds"]
    ratio = accord_rate / ceiling_rate
    exact = all(numbers_exact(r, expected_rows) for r in accord_runs)
    return {
        "rows": rows,
        "fileBytes": csv_path.stat().st_size,
        "accord": {
            "seconds": round(best_accord["seconds"], 3),
            "rowsPerSecond": round(accord_rate),
            "peakRssMb": max(r["peak_rss_mb"] for r in accord_runs),
            "failedRows": best_accord["failed"],
            "status": best_accord["status"],
            "runs": [round(r["seconds"], 3) for r in accord_runs],
        },
        "ceiling": {
            "seconds": round(best_ceiling["seconds"], 3),
            "rowsPerSecond": round(ceiling_rate),
            "peakRssMb": max(r["peak_rss_mb"] for r in ceiling_runs),
            "runs": [round(r["seconds"], 3) for r in ceiling_runs],
        },
        "ratioToCeiling": round(ratio, 3),
        "defectiveRows": len(expected_rows),
        "lineNumbersExact": exact,
        "goalMet": ratio >= 0.5 and exact,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    mapping = DATA / "crm_mapping.yaml"
    mapping.write_text(MAPPING)
    files = {}
    for case, defects in (("clean", "no"), ("withDefects", "yes")):
        csv_path = DATA / f"crm_{args.rows}_{case}.csv"
        if not csv_path.exists():
            print(f"generating {args.rows:,} rows ({case}) ...", flush=True)
            run_isolated(GENERATE, str(csv_path), str(args.rows), defects)
        print(f"{case}: {csv_path.name}, {csv_path.stat().st_size / 2**20:.0f} MiB", flush=True)
        files[case] = csv_path
    cases = measure(files, mapping, args.repeat, args.rows)
    result = {
        "mapping": {"fromColumns": 8, "calculated": 2, "validation": True},
        "ceiling": "DuckDB read_csv -> Parquet (COPY), default options, fresh process, same run",
        "goal": "Accord rows/s at least 50 % of the ceiling's on both files, memory bounded, and every defective "
        "row reported at its exact line and record number",
        **cases,
    }
    path = write_result("ingest", result)
    for case, figures in cases.items():
        accord, ceiling = figures["accord"], figures["ceiling"]
        print(
            f"{case}: Accord {accord['rowsPerSecond']:,} rows/s (peak {accord['peakRssMb']:,.0f} MB, "
            f"{accord['failedRows']:,} rows failed, line numbers {'exact' if figures['lineNumbersExact'] else 'WRONG'})"
            f" | ceiling {ceiling['rowsPerSecond']:,} rows/s (peak {ceiling['peakRssMb']:,.0f} MB) | ratio "
            f"{figures['ratioToCeiling']:.2f} (goal >= 0.50: {'met' if figures['goalMet'] else 'NOT met'})"
        )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
