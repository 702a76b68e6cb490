"""Extraction: the incoming recipients to a CSV file in an allowed folder, written whole (under a hidden name,
then renamed) so that a reader never sees half of it."""

from __future__ import annotations

import csv
import os
import re
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select

from accord.access import AllowedRoots
from accord.campaign.models import RecipientRecord
from accord.campaign.recipients import recipient_document
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext
from accord.sources import LOCAL_PATH

FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.{}-]{0,200}\.csv$")
COLUMNS = ("externalId", "email", "firstName", "lastName", "phone", "blackListEmail")
CHUNK = 5000


class ExtractionOptions(ActivityOptions):
    folder: str = Field(
        description="The folder the file goes to; inside the allowed roots.", json_schema_extra=LOCAL_PATH
    )
    file: str = Field(
        default="{workflow}_{activity}_{run}.csv",
        description="The file's name; `{workflow}`, `{activity}`, `{run}` and `{date}` are replaced.",
    )
    columns: list[str] = Field(default=list(COLUMNS), min_length=1,
                               description="Recipient columns, or `custom.<name>`.")  # fmt: skip

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: list[str]) -> list[str]:
        known = (*COLUMNS, "blackListMobile", "blackList", "id", "createdAt", "updatedAt")
        wrong = [c for c in value if c not in known and not (c.startswith("custom.") and len(c) > 7)]
        if wrong:
            raise ValueError(f"unknown columns {', '.join(wrong)}; columns: {', '.join(known)}, custom.<name>")
        return value

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not FILE.match(value):
            raise ValueError("a file name of letters, digits, '_', '.', '-' and {macros}, ending in .csv")
        return value


class Extraction(Activity[ExtractionOptions]):
    spec = ActivitySpec(
        name="extraction",
        description="Write the incoming recipients to a CSV file in an allowed folder; they go on unchanged.",
        options=ExtractionOptions,
    )

    def local_paths(self) -> dict[str, str]:
        return {"folder": self.options.folder}

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        folder = AllowedRoots.from_settings(context.engine.settings).resolve(self.options.folder, "options.folder")
        folder.mkdir(parents=True, exist_ok=True)
        name = self.options.file.format(workflow=context.workflow, activity=context.activity, run=context.run_id,
                                        date=context.now.strftime("%Y%m%d%H%M%S"))  # fmt: skip
        target, population = folder / name, sorted(inputs.population())
        partial = folder / f".{name}.{os.getpid()}.partial"
        try:
            with partial.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(self.options.columns)
                with context.engine.database.session() as session:
                    for start in range(0, len(population), CHUNK):
                        chunk = population[start : start + CHUNK]
                        rows = session.scalars(select(RecipientRecord).where(RecipientRecord.id.in_(chunk))
                                               .order_by(RecipientRecord.id))  # fmt: skip
                        writer.writerows(self._row(recipient_document(r)) for r in rows)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        file = {"name": name, "path": str(target), "size": target.stat().st_size}
        return ActivityResult({"population": len(population), "written": len(population)},
                              {"population": population, "files": [file]})  # fmt: skip

    def _row(self, document: dict[str, Any]) -> list[Any]:
        return [document["custom"].get(c[7:], "") if c.startswith("custom.") else document.get(c, "")
                for c in self.options.columns]  # fmt: skip
