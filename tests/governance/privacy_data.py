"""A sandbox of people for privacy jobs: profile datasets that share identities, events keyed by an identityMap,
households that share an e-mail address (kept apart by CRMID, a unique namespace), a graph size limit that
evicts identities, and a user's removal of a link: every way a person's graphs touch another's."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from accord import identity, lake, schema
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

IDS = {"name": "privacy-ids", "classes": ["profile", "experienceevent"], "fields": {"_tenant": {
    "type": "object", "properties": {"crm": {"type": "string"}, "ecid": {"type": "string"},
                                     "tier": {"type": "string"}}}}}  # fmt: skip
PROFILE_GROUPS = ["personal-contact-details", "demographic-details", "privacy-ids"]
MAPPINGS = {
    "crm": [("crm", "_tenant.crm"), ("email", "personalEmail.address"), ("first", "person.name.firstName"),
            ("city", "homeAddress.city")],
    "web": [("ecid", "_tenant.ecid"), ("email", "personalEmail.address"), ("city", "homeAddress.city")],
    "loyalty": [("crm", "_tenant.crm"), ("phone", "mobilePhone.number"), ("tier", "_tenant.tier"),
                ("first", "person.name.firstName")],
}  # fmt: skip
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class People:
    count: int

    def email(self, i: int) -> str:
        return f"household{i // 40}@x.io" if i % 20 == 0 else f"p{i}@x.io"

    def ecid(self, i: int) -> str:
        return str(i).rjust(38, "0")

    def phone(self, i: int) -> str:
        return f"+1{2000000000 + i}"


def write_files(folder: Path, people: People, seed: int) -> None:
    """The input files: CRM (in two files, ingested as two batches), web profiles, loyalty, and events."""
    rng = random.Random(seed)
    n = people.count
    folder.mkdir(parents=True, exist_ok=True)
    crm = [f"C{i},{people.email(i)},First{i},{['Paris', 'Oslo', 'Lima'][i % 3]}" for i in range(n)]
    (folder / "crm-1.csv").write_text("crm,email,first,city\n" + "\n".join(crm[: n // 2]) + "\n")
    (folder / "crm-2.csv").write_text("crm,email,first,city\n" + "\n".join(crm[n // 2 :]) + "\n")
    web = [f"{people.ecid(i)},{people.email(i) if i % 10 < 7 else ''},{'Web' if i % 2 else ''}" for i in range(n)]
    (folder / "web.csv").write_text("ecid,email,city\n" + "\n".join(web) + "\n")
    loyalty = [f"C{i},{people.phone(i)},{['gold', 'silver'][i % 2]},{'Newer' if i % 4 == 0 else ''}" for i in range(n)]
    (folder / "loyalty.csv").write_text("crm,phone,tier,first\n" + "\n".join(loyalty) + "\n")
    events = []
    for j in range(n * 6):
        i = rng.randrange(n)
        ids: dict[str, Any] = {"ECID": [{"id": people.ecid(i)}]}
        if j % 5 == 0:  # some events name the e-mail too, as sent (upper case): graphs hold it lower-cased
            ids["Email"] = [{"id": people.email(i).upper()}]
        events.append(
            {
                "_id": f"E{j}",
                "timestamp": (NOW - timedelta(hours=j)).isoformat(),
                "eventType": ["commerce.purchases", "web.webpagedetails.pageViews"][j % 2],
                "identityMap": ids,
            }
        )
    (folder / "events.json").write_text("\n".join(json.dumps(e) for e in events) + "\n")


def build(ws: Workspace, folder: Path, sandbox: str = "prod") -> None:
    """Schemas, datasets, linking rules, the files ingested, a user's removal of a link, graphs and profiles."""
    from accord import profile

    with ws.catalog.session() as s:
        schema.create_field_group(s, sandbox, IDS)
        for name, ids in [
            ("crm", [("_tenant.crm", "CRMID", True), ("personalEmail.address", "Email", False)]),
            ("web", [("_tenant.ecid", "ECID", False), ("personalEmail.address", "Email", False)]),
            ("loyalty", [("_tenant.crm", "CRMID", False), ("mobilePhone.number", "Phone_E164", False)]),
        ]:
            schema.create_schema(s, sandbox, {"name": name, "class": "profile", "fieldGroups": PROFILE_GROUPS,
                                              "identities": [{"path": p, "namespace": n, "primary": primary}
                                                             for p, n, primary in ids]})  # fmt: skip
            lake.create_dataset(s, sandbox, name, name, profile_enabled=True)
        schema.create_schema(s, sandbox, {"name": "events", "class": "experienceevent",
                                          "fieldGroups": ["identitymap", "privacy-ids"]})  # fmt: skip
        lake.create_dataset(s, sandbox, "events", "events", profile_enabled=True)
        schema.create_schema(
            s,
            sandbox,
            {
                "name": "notes",
                "class": "profile",
                "fieldGroups": PROFILE_GROUPS,
                "identities": [{"path": "personalEmail.address", "namespace": "Email"}],
            },
        )
        lake.create_dataset(s, sandbox, "notes", "notes", profile_enabled=False)  # feeds no graph
        identity.set_rules(s, sandbox, ["CRMID"], None)
        identity.remove_link(s, sandbox, ("CRMID", "C7"), ("Phone_E164", "+12000000007"), "shared phone", "test")
    for name, file in (("crm", "crm-1.csv"), ("crm", "crm-2.csv"), ("web", "web.csv"), ("loyalty", "loyalty.csv")):
        mapping = parse_mapping({"mappings": [{"source": a, "destination": b} for a, b in MAPPINGS[name]]})
        assert ingest_file(ws, sandbox, IngestRequest(name, folder / file, mapping))["status"] == "success"
    assert ingest_file(ws, sandbox, IngestRequest("events", folder / "events.json"))["status"] == "success"
    notes = parse_mapping({"mappings": [{"source": "email", "destination": "personalEmail.address"},
                                        {"source": "first", "destination": "person.name.firstName"}]})  # fmt: skip
    (folder / "notes.csv").write_text("email,first\np3@x.io,Three\np5@x.io,Five\n")
    assert ingest_file(ws, sandbox, IngestRequest("notes", folder / "notes.csv", notes))["status"] == "success"
    identity.build_graph(ws, sandbox)
    profile.build_profiles(ws, sandbox)


def stores(ws: Workspace, sandbox_id: str) -> dict[str, Any]:
    """What the graph files and the profile store hold, in a form two builds can be compared by: each file's rows
    as a sorted list (the order within a graph is the build's own), and the order of the graphs in each file."""
    folder = ws.lake.sandbox_dir(sandbox_id)
    found: dict[str, Any] = {}

    def rows(table: pa.Table) -> list[str]:
        return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())

    for name in ("nodes", "links", "records"):
        found[name] = rows(pq.read_table(folder / "identity" / f"{name}.parquet"))
    for path in sorted((folder / "profile").glob("*.arrow")):
        table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        found[path.name] = rows(table)
        order = "graph" if "graph" in table.column_names else "key"
        found[f"{path.name} order"] = table[order].to_pylist()
    profiles = pq.read_table(folder / "profile" / "profiles.parquet")
    found["profiles"], found["profiles order"] = rows(profiles), profiles["graph"].to_pylist()
    manifest = json.loads((folder / "profile" / "manifest.json").read_text())
    found["manifest"] = {key: manifest[key] for key in ("fragments", "events", "profiles", "batches", "datasets")}
    return found
