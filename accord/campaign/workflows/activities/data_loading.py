"""Data loading: each collected CSV file checked before anything of it is loaded: text, a header of distinct
names, the columns the options require, and at most the fields the instance allows. A file that fails is
refused whole, with its name and why (and not collected again unless it changes); the others go on."""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import Field

from accord.campaign.workflows.records import refuse_file
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext

RESERVED = ("segmentMembership.status", "operation")
"""Columns the CDP's exports add to the mapped fields; they are not fields of a recipient."""
SNIFF = 64 * 1024


class DataLoadingOptions(ActivityOptions):
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="The field separator.")
    required: list[str] = Field(default_factory=list, description="Columns every file must have.")
    max_fields: int | None = Field(
        default=None,
        ge=1,
        alias="maxFields",
        description="Columns a file may have, besides segmentMembership.status and operation; "
        "default: the setting campaign_max_fields.",
    )
    audience: bool = Field(default=False, description="The files are CDP audiences: refusals are audited per file.")


class DataLoading(Activity[DataLoadingOptions]):
    spec = ActivitySpec(
        name="data-loading",
        description="Check each collected CSV file (header, required columns, field limit) before it is loaded.",
        options=DataLoadingOptions,
        takes="files",
        gives="files",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        limit = self.options.max_fields or context.engine.settings.campaign_max_fields
        accepted, refused, rows = [], [], 0
        for file in inputs.files():
            try:
                header, count = self._check(Path(file["path"]), file["name"], limit)
            except FileRefused as exc:
                refuse_file(context, file, exc.reason, audience=self.options.audience, final=exc.final)
                refused.append({"name": file["name"], "error": exc.reason})
                continue
            accepted.append({**file, "columns": header, "rows": count, "delimiter": self.options.delimiter})
            rows += count
        counts = {"files": len(accepted), "refused": len(refused), "rows": rows}
        return ActivityResult(counts, {"files": accepted, "refused": refused})

    def _check(self, path: Path, name: str, limit: int) -> tuple[list[str], int]:
        if path.suffix.lower() not in (".csv", ".txt"):
            raise FileRefused(f"{name} is not a CSV file (its name ends in {path.suffix or 'nothing'})")
        with path.open("rb") as handle:
            start = handle.read(SNIFF)
        if not start.strip():
            raise FileRefused(f"{name} is empty: not even a header")
        if b"\0" in start:
            raise FileRefused(f"{name} is not a CSV file: it holds binary data")
        try:
            start.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if len(start) < SNIFF or exc.start < SNIFF - 4:  # not a character cut by the end of the sample
                raise FileRefused(f"{name} is not UTF-8 text (byte {exc.start + 1})") from None
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle, delimiter=self.options.delimiter, strict=True)
                header = [h.strip() for h in next(reader)]
                count = sum(1 for row in reader if any(cell.strip() for cell in row))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileRefused(f"{name} is not a readable CSV file: {exc}") from None
        self._check_header(name, header, limit)
        return header, count

    def _check_header(self, name: str, header: list[str], limit: int) -> None:
        if any(not h for h in header):
            raise FileRefused(f"{name}: column {header.index('') + 1} of the header has no name")
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise FileRefused(f"{name}: the header names {', '.join(twice)} twice")
        fields = [h for h in header if h not in RESERVED]
        if len(fields) > limit:
            raise FileRefused(f"{name} has {len(fields)} fields, more than the {limit} the instance takes "
                              "(setting campaign_max_fields): the file was not loaded", final=False)  # fmt: skip
        missing = [c for c in self.options.required if c not in header]
        if missing:
            raise FileRefused(f"{name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


class FileRefused(Exception):
    """A file that cannot be loaded; `reason` names it and says why. Not `final` when over a limit an
    administrator may raise: the next run tries it again."""

    def __init__(self, reason: str, *, final: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.final = reason, final
