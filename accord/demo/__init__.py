"""`accord demo`: Accord's main job end to end on embedded defaults, with a printed summary.

It grows with every capability; today: a CRM export and web events are made with Faker, a
custom field group and two schemas are registered, and both files are ingested through the
mapping and validation pipeline, with the rows that fail kept as diagnostics."""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from accord import lake, schema
from accord.ingest import IngestRequest, ingest_file, load_mapping
from accord.settings import Settings
from accord.workspace import Workspace, initialise


def _data(name: str) -> Path:
    return Path(str(resources.files("accord.demo").joinpath("data", name)))


def run_demo(settings: Settings, rows: int = 2000, report: Console | None = None) -> dict[str, Any]:
    """Run the demo in `home/demo` (rebuilt each time) and return its summary."""
    from accord.demo.generate import crm_export, web_events

    say = report.print if report else (lambda *_a, **_k: None)
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    demo_settings = settings.model_copy(update={"home": home, "database_url": None, "lake_root": None})
    started = time.perf_counter()
    init = initialise(demo_settings)
    say(f"[bold]Accord demo[/] in {init.home}")
    files = home / "incoming"
    files.mkdir(parents=True)
    crm_file, web_file = files / "crm_export.csv.gz", files / "web_events.json"
    defects = crm_export(crm_file, rows)
    web_events(web_file, rows, rows * 5)
    say(f"1. generated {rows:,} CRM records ({defects} with defects) and {rows * 5:,} web events")

    workspace = Workspace.open(demo_settings)
    try:
        with workspace.catalog.session() as session:
            schema.create_field_group(session, "prod", yaml.safe_load(_data("crm-ids.yaml").read_text()))
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "crm-profile",
                    "class": "profile",
                    "fieldGroups": [
                        "demographic-details",
                        "personal-contact-details",
                        "consents-and-preferences",
                        "crm-ids",
                    ],
                    "identities": [
                        {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
                        {"path": "personalEmail.address", "namespace": "Email"},
                    ],
                },
            )
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "web-events",
                    "class": "experienceevent",
                    "fieldGroups": ["identitymap", "web-details", "commerce-details"],
                },
            )
            lake.create_dataset(session, "prod", "crm", "crm-profile", profile_enabled=True)
            lake.create_dataset(session, "prod", "web-events", "web-events", profile_enabled=True)
        say("2. registered field group crm-ids, schemas crm-profile and web-events, datasets crm and web-events")
        crm = ingest_file(workspace, "prod", IngestRequest("crm", crm_file, load_mapping(_data("crm-mapping.yaml"))))
        web = ingest_file(workspace, "prod", IngestRequest("web-events", web_file))
        say("3. ingested both files through data prep mapping and validation")
        errors = list(lake.batch_errors(workspace, "prod", crm["id"], limit=3))
        with workspace.catalog.session() as session:
            datasets = lake.list_datasets(session, "prod")
        sample = lake.preview(workspace, "prod", "crm", 1)
    finally:
        workspace.close()

    summary = {
        "home": init.home,
        "seconds": round(time.perf_counter() - started, 2),
        "batches": [crm, web],
        "datasets": datasets,
        "sampleProfileRecord": sample[0] if sample else None,
        "sampleRowErrors": errors,
    }
    if report:
        table = Table("batch", "dataset", "status", "rows in", "ingested", "failed", "seconds")
        for b in (crm, web):
            table.add_row(
                b["id"],
                b["dataset"],
                b["status"],
                f"{b['inputRecordCount']:,}",
                f"{b['outputRecordCount']:,}",
                f"{b['failedRecordCount']:,}",
                str(b["durationSeconds"]),
            )
        report.print(table)
        report.print("Rows that failed validation are kept with their line and reason, e.g.:")
        for e in errors:
            report.print(
                f"  line {e['lineNumber']}: {e['_errors'][0]['code']} {e['_errors'][0]['message']}",
                highlight=False,
                markup=False,
            )
        report.print("A CRM record as stored (XDM):")
        report.print_json(data=summary["sampleProfileRecord"])
        report.print(f"Done in {summary['seconds']} s. Explore with: ACCORD_HOME={init.home} accord dataset list")
    return summary
