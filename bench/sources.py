"""Benchmark: a dataflow from S3 (a moto server) against just downloading the files (the ceiling).

    python bench/sources.py [--files 200] [--rows 20000]

200 gzip CSV files of 20,000 rows each are put in a bucket. Measured: the first run of an S3
dataflow (discover, download, map, validate, ingest every file), rows/s; in the same run, the time
to list and download the same files with boto3 alone. Then 10 files are added and a second run
is measured, which must ingest only those.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATA, write_result
from tests.servers import start_moto

MAPPING = {"mappings": [
    {"source": "customer_id", "destination": "_tenant.crmId"},
    {"source": "first_name", "destination": "person.name.firstName"},
    {"source": "last_name", "destination": "person.name.lastName"},
    {"expression": "lower(email)", "destination": "personalEmail.address"},
    {"source": "city", "destination": "homeAddress.city"},
    {"expression": "upper(country)", "destination": "homeAddress.countryCode"},
]}  # fmt: skip


def generate(folder: Path, files: int, rows: int, first: int = 0) -> list[Path]:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    con = duckdb.connect()
    for n in range(first, first + files):
        path = folder / f"crm_{n:04d}.csv.gz"
        if not path.exists():
            con.execute(f"""COPY (SELECT 'C' || lpad((i + {n * rows})::VARCHAR, 9, '0') AS customer_id,
                ['Ann','Bob','Cy','Dee','Eve','Fay'][1 + i % 6] AS first_name,
                ['Lee','Ng','Ko','Roe'][1 + i % 4] AS last_name,
                'User' || (i + {n * rows}) || '@Example.com' AS email,
                ['Paris','Lyon','Oslo','Rome'][1 + i % 4] AS city, ['fr','no','it'][1 + i % 3] AS country
                FROM range({rows}) t(i)) TO '{path}' (HEADER, COMPRESSION gzip)""")
        made.append(path)
    return made


def upload(client: Any, bucket: str, files: list[Path]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: client.upload_file(str(p), bucket, f"landing/{p.name}"), files))


def download_all(client: Any, bucket: str, target: Path, threads: int) -> tuple[float, int]:
    """The ceiling: list and download every file with boto3 alone, `threads` at a time."""
    start = time.perf_counter()
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="landing/")
            for item in page.get("Contents", [])]  # fmt: skip
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: client.download_file(bucket, k, str(target / Path(k).name)), keys))
    return time.perf_counter() - start, len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    import boto3

    from accord import lake, schema, sources
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise

    local = DATA / f"s3_{args.rows}"
    files = generate(local, args.files, args.rows)
    extra = generate(local, 10, args.rows, first=args.files)
    moto = start_moto()
    home = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    try:
        key, secret_key = moto.admin
        client = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                              aws_access_key_id=key, aws_secret_access_key=secret_key)  # fmt: skip
        client.create_bucket(Bucket="bench")
        upload(client, "bench", files)
        total_bytes = sum(p.stat().st_size for p in files)
        downloads = home / "downloads"
        downloads.mkdir()
        sequential_seconds, count = download_all(client, "bench", downloads, threads=1)
        ceiling_seconds, count = download_all(client, "bench", downloads, threads=8)  # as the connector fetches
        shutil.rmtree(downloads)
        settings = Settings(home=home / "accord", scheduler=False)
        initialise(settings)
        ws = Workspace.open(settings)
        with ws.catalog.session() as session:
            schema.create_field_group(
                session,
                "prod",
                {
                    "name": "ids",
                    "classes": ["profile"],
                    "fields": {
                        "_tenant": {"type": "object", "properties": {"crmId": {"type": "string", "required": True}}}
                    },
                },
            )
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "crm",
                    "class": "profile",
                    "fieldGroups": ["demographic-details", "personal-contact-details", "ids"],
                },
            )
            lake.create_dataset(session, "prod", "crm", "crm")
            sources.create_connection(
                session,
                sources.SecretBox(settings.home),
                "prod",
                "s3",
                "s3",
                {"bucket": "bench", "endpointUrl": moto.endpoint, "accessKeyId": key, "secretAccessKey": secret_key},
            )
            sources.create_dataflow(session, "prod", {"name": "s3-crm", "connection": "s3", "dataset": "crm",
                                                      "source": {"path": "landing", "glob": "*.csv.gz"},
                                                      "mapping": MAPPING})  # fmt: skip
        start = time.perf_counter()
        first = sources.run_dataflow(ws, "prod", "s3-crm")
        first_seconds = time.perf_counter() - start
        time.sleep(1.1)  # S3 keeps seconds: later files must be newer
        upload(client, "bench", extra)
        start = time.perf_counter()
        second = sources.run_dataflow(ws, "prod", "s3-crm")
        second_seconds = time.perf_counter() - start
        ws.close()
    finally:
        moto.stop()
        shutil.rmtree(home, ignore_errors=True)
    rows = first["recordsIngested"]
    result = {
        "files": args.files, "rowsPerFile": args.rows, "bytes": total_bytes,
        "firstRun": {"seconds": round(first_seconds, 2), "status": first["status"], "files": first["files"],
                     "recordsIngested": rows, "rowsPerSecond": round(rows / first_seconds)},
        "ceiling": {"what": "list + download the same files with boto3, 8 at a time (as the connector), same server",
                    "seconds": round(ceiling_seconds, 2), "files": count,
                    "sequentialSeconds": round(sequential_seconds, 2)},
        "ratioToCeiling": round(ceiling_seconds / first_seconds, 3),
        "secondRun": {"seconds": round(second_seconds, 2), "files": second["files"],
                      "recordsIngested": second["recordsIngested"], "onlyNewFiles": second["files"] == 10},
    }  # fmt: skip
    path = write_result("sources", result)
    print(
        f"first run: {first['files']} files, {rows:,} rows in {first_seconds:.1f} s "
        f"({rows / first_seconds:,.0f} rows/s), {first['status']}"
    )
    print(
        f"download ceiling: {ceiling_seconds:.1f} s with 8 threads ({sequential_seconds:.1f} s one at a time) "
        f"-> ratio {ceiling_seconds / first_seconds:.2f}"
    )
    print(f"second run: {second['files']} files, {second['recordsIngested']:,} rows in {second_seconds:.1f} s")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
