"""Update data: the rows of each checked file into recipients, by the reconciliation key (insert, update, or
insert-or-update), each file in one transaction. A row that cannot be loaded is rejected, counted and kept with
its row number and reason: a key missing or given twice in the file, a bad e-mail address, more cells than the
header has. Rows of members who left an audience (`segmentMembership.status` = exited, or `operation` =
delete) load nothing: they are handed on as `leaving`, for the list update. Loading the same file again changes
nothing (`updated` counts only rows whose values differ).

Which file column fills which recipient column: the `mapping` option says so; without it, a column named
like a recipient column (`externalId`, `email`, `firstName`, `lastName`, `phone`, compared without case and
`_ . -`, plus a few usual aliases such as `personalEmail.address`) fills it, and any other column becomes a
custom field of that name.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from accord.campaign.exceptions import CampaignInputError, CampaignLimitError
from accord.campaign.workflows.activities.data_loading import RESERVED
from accord.campaign.workflows.audiences import audience_of, check_audience_room
from accord.campaign.workflows.loading import FileLoad, RowRejected, apply_file
from accord.campaign.workflows.records import refuse_file
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext
from accord.errors import AccordError

FIELDS = ("externalId", "email", "firstName", "lastName", "phone")
ALIASES = {"externalid": "externalId", "crmid": "externalId", "email": "email", "emailaddress": "email",
           "personalemailaddress": "email", "firstname": "firstName", "personnamefirstname": "firstName",
           "lastname": "lastName", "personnamelastname": "lastName", "phone": "phone", "mobilephone": "phone",
           "mobilephonenumber": "phone", "phonenumber": "phone"}  # fmt: skip
_FOLD = re.compile(r"[_.\-\s]")


def default_field(column: str) -> str:
    """The recipient field a file column fills when no mapping says: a recipient column, or `custom.<column>`."""
    return ALIASES.get(_FOLD.sub("", column).lower(), f"custom.{column}")


class UpdateDataOptions(ActivityOptions):
    operation: Literal["insert", "update", "upsert"] = Field(
        default="upsert", description="insert (new keys only), update (known keys only), or upsert (both)."
    )
    key: str = Field(default="externalId", description="The recipient column rows are reconciled by.")
    mapping: dict[str, str] = Field(default_factory=dict, description="File column -> recipient column "
                                    "(externalId, email, firstName, lastName, phone, custom.<name>).")  # fmt: skip
    audience: bool = Field(default=False, description="The files are CDP audiences: each load is audited.")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value not in ("externalId", "email"):
            raise ValueError("recipients are reconciled by externalId or email")
        return value

    @field_validator("mapping")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [t for t in value.values() if t not in FIELDS and not (t.startswith("custom.") and len(t) > 7)]
        if wrong:
            raise ValueError(
                f"unknown recipient columns {', '.join(wrong)}; columns: {', '.join(FIELDS)}, custom.<name>"
            )
        return value


class UpdateData(Activity[UpdateDataOptions]):
    spec = ActivitySpec(
        name="update-data",
        description="Insert or update recipients from the checked files, by the reconciliation key.",
        options=UpdateDataOptions,
        takes="files",
        gives="population",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        files, population = [], set()
        totals = {"files": 0, "refused": 0, "loaded": 0, "inserted": 0, "updated": 0, "rejected": 0, "leaving": 0}
        admitted: set[str] = set()
        for file in inputs.files():
            try:
                if self.options.audience:
                    self._check_audience(context, file, admitted)
                load = self._read(file)
                result = apply_file(context, load, self.options.operation, audience=self.options.audience)
            except AccordError as exc:  # over a limit, a file whose key column is missing: refused whole
                # Over a limit, the file is taken again by the next run: an administrator may raise the limit.
                again = isinstance(exc, CampaignLimitError)
                refuse_file(context, file, exc.message, audience=self.options.audience, final=not again)
                totals["refused"] += 1
                continue
            files.append({**file, **result})
            population.update(result["population"])
            totals["files"] += 1
            for name in ("loaded", "inserted", "updated", "rejected"):
                totals[name] += result[name]
            totals["leaving"] += len(result["leaving"])
        return ActivityResult({**totals, "population": len(population)},
                              {"files": files, "population": sorted(population)})  # fmt: skip

    def _check_audience(self, context: RunContext, file: dict[str, Any], admitted: set[str]) -> None:
        audience = audience_of(file["name"])
        file["audience"] = {"id": audience.id, "list": audience.list_name}
        with context.engine.database.session() as session:
            check_audience_room(session, context.engine.settings.campaign_max_audiences, audience, file["name"],
                                admitted)  # fmt: skip

    def _read(self, file: dict[str, Any]) -> FileLoad:
        header: list[str] = file.get("columns") or []
        fields = {c: self.options.mapping.get(c) or default_field(c) for c in header if c not in RESERVED}
        key_columns = [c for c, f in fields.items() if f == self.options.key]
        if not key_columns:
            raise CampaignInputError(f"{file['name']} has no column for the key {self.options.key!r}: nothing of it "
                                     "was loaded", file=file["name"])  # fmt: skip
        load = FileLoad(file["name"], self.options.key)
        key_column = key_columns[0]
        seen: dict[str, int] = {}
        with Path(file["path"]).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=file.get("delimiter", ","))
            next(reader)
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                try:
                    self._row(load, header, fields, key_column, seen, number, cells)
                except RowRejected as exc:
                    load.reject(number, exc.key, exc.reason)
        return load

    def _row(self, load: FileLoad, header: list[str], fields: dict[str, str], key_column: str,
             seen: dict[str, int], number: int, cells: list[str]) -> None:  # fmt: skip
        if len(cells) > len(header):
            raise RowRejected(None, f"{len(cells)} cells, more than the {len(header)} columns of the header")
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        key = row.get(key_column, "")
        if not key:
            raise RowRejected(None, f"no {key_column} (the reconciliation key)")
        if key in seen:
            raise RowRejected(key, f"{key_column} {key!r} again (first on row {seen[key]})")
        seen[key] = number
        if row.get("segmentMembership.status") == "exited" or row.get("operation") == "delete":
            load.leaving.append(key)
            return
        values: dict[str, Any] = {}
        for column, field in fields.items():
            if column in row:
                values[field] = row[column] or None
        load.add(number, key, values)
