"""A home shared by real `accord` processes: a shop with customers, loyalty members and web events."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord import lake, profile, schema, segment
from accord.catalog import resolve_sandbox
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.processes import environment, run

PEOPLE = 10_000
"""Enough for a rebuild to take a few seconds and, under a low memory limit, to spill."""

CRM = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"}, {"source": "first", "destination": "person.name.firstName"},
    {"source": "city", "destination": "homeAddress.city"}, {"source": "email", "destination": "personalEmail.address"},
]})  # fmt: skip


@dataclass
class Home:
    path: Path
    token: str
    sandbox_id: str

    @property
    def lake(self) -> Path:
        return self.path / "lake"

    def env(self, **settings: str) -> dict[str, str]:
        return environment(self.path, **settings)

    def leases(self) -> list[dict[str, Any]]:
        """The locks held now, read from the catalog as an operator would."""
        with closing(sqlite3.connect(self.path / "catalog.db")) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM job_leases")]

    def batch(self, batch_id: str) -> dict[str, Any]:
        with closing(sqlite3.connect(self.path / "catalog.db")) as db:
            db.row_factory = sqlite3.Row
            return dict(db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone())

    def segment_jobs(self) -> list[dict[str, Any]]:
        with closing(sqlite3.connect(self.path / "catalog.db")) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM segment_jobs ORDER BY started_at")]

    def batches(self, dataset: str) -> list[dict[str, Any]]:
        with closing(sqlite3.connect(self.path / "catalog.db")) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT b.* FROM batches b JOIN datasets d ON d.id = b.dataset_id WHERE d.name = ? "
                              "ORDER BY b.created_at", (dataset,))  # fmt: skip
            return [dict(r) for r in rows]


def build_shop(home: Path, folder: Path, people: int) -> Home:
    """Customers (CRMID, e-mail), loyalty members (CRMID, a newer first name for some), web events (cookie,
    and the e-mail for some): graphs join the three."""
    settings = Settings(home=home, duckdb_threads=1, scheduler=False)
    token = initialise(settings).token
    assert token
    ws = Workspace.open(settings)
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        for name in ("crm", "loyalty"):
            schema.create_schema(s, "prod", {"name": name, "class": "profile", "fieldGroups": [
                "demographic-details", "personal-contact-details", "ids"], "identities": [
                {"path": "_tenant.crmId", "namespace": "CRMID"}, {"path": "personalEmail.address",
                                                                  "namespace": "Email"}]})  # fmt: skip
            lake.create_dataset(s, "prod", name, name, profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent",
                                         "fieldGroups": ["identitymap", "web-details"]})  # fmt: skip
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
        lake.set_ttl(s, "prod", "web", 36_500)
        schema.create_schema(
            s,
            "prod",
            {"name": "bulk", "class": "profile", "fieldGroups": ["demographic-details", "personal-contact-details"]},
        )
        lake.create_dataset(s, "prod", "bulk", "bulk")
        segment.create_segment(s, "prod", {"name": "parisians", "expression": {"value": 'homeAddress.city = "Paris"'}})
        sandbox_id = resolve_sandbox(s, "prod").id
    con = duckdb.connect()
    city = "['Paris', 'Oslo', 'Lima', 'Pune', 'Kyiv'][1 + i % 5]"
    con.execute(
        f"COPY (SELECT 'C' || i AS crm, 'First' || (i % 997) AS first, {city} AS city, "
        f"'p' || i || '@x.io' AS email FROM range({people}) t(i)) TO '{folder}/crm.csv' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT 'C' || i AS crm, 'Newer' || i AS first, NULL AS city, NULL AS email "
        f"FROM range(0, {people}, 3) t(i)) TO '{folder}/loyalty.csv' (HEADER)"
    )
    events = [{"_id": f"e{j}", "timestamp": f"2026-0{1 + j % 9}-1{j % 10}T10:00:00Z",
               "eventType": "web.webpagedetails.pageViews",
               "identityMap": {"ECID": [{"id": str(j % people).zfill(38)}],
                               **({"Email": [{"id": f"p{j % people}@x.io"}]} if j < people else {})}}
              for j in range(2 * people)]  # fmt: skip
    (folder / "web.json").write_text("\n".join(json.dumps(e) for e in events))
    ingest_file(ws, "prod", IngestRequest("crm", folder / "crm.csv", CRM))
    ingest_file(ws, "prod", IngestRequest("loyalty", folder / "loyalty.csv", CRM))
    ingest_file(ws, "prod", IngestRequest("web", folder / "web.json"))
    ws.close()
    return Home(home, token, sandbox_id)


@pytest.fixture(scope="module")
def shop_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    folder = tmp_path_factory.mktemp("shop")
    return build_shop(folder / "home", folder, PEOPLE)


def _rows(path: Path) -> list[str]:
    table = pq.read_table(path) if path.suffix == ".parquet" else pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


def store_contents(home: Home) -> dict[str, Any]:
    """What the identity graphs and the profile store hold, row by row (their order aside)."""
    contents: dict[str, Any] = {}
    for folder in ("identity", "profile"):
        for path in sorted((home.lake / home.sandbox_id / folder).iterdir()):
            if path.suffix in (".parquet", ".arrow"):
                contents[f"{folder}/{path.name}"] = _rows(path)
            elif path.name == "manifest.json":
                manifest = json.loads(path.read_text())
                contents[f"{folder}/{path.name}"] = {k: v for k, v in manifest.items()
                                                     if k not in ("builtAt", "graphBuilt")}  # fmt: skip
            else:
                contents[f"{folder}/{path.name}"] = "present"
    return contents


LOOKUPS = (("CRMID", "C7"), ("Email", "p12@x.io"), ("ECID", "9".zfill(38)), ("CRMID", "C9998"))


def lookups(home: Home) -> list[Any]:
    """Profiles looked up by a few identities."""
    ws = Workspace.open(Settings(home=home.path, duckdb_threads=1, scheduler=False))
    try:
        return [profile.get_profile(ws, "prod", namespace, value) for namespace, value in LOOKUPS]
    finally:
        ws.close()


@dataclass
class Lone:
    summary: dict[str, Any]
    contents: dict[str, Any]
    lookups: list[Any]


@pytest.fixture(scope="module")
def lone_run(shop_home: Home) -> Lone:
    """What one rebuild, alone, makes of the shop."""
    result = run(shop_home.env(), "profile", "rebuild", "--json")
    assert result.code == 0, result.stderr
    return Lone(result.json(), store_contents(shop_home), lookups(shop_home))
