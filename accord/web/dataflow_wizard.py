"""The dataflow wizard: a plain form in five steps (connection, files or table, dataset, mapping, schedule), each
posted back with what the earlier ones hold as hidden fields, so that it works by keyboard and without scripts.

Each step's parts are checked by `sources.draft_problems` before the next is shown; the mapping step tries the
mapping on the first file (or rows) the connection delivers (`sources.preview_dataflow`) and shows the mapped
records with their errors; the last step makes the dataflow with `sources.create_dataflow`, the service of
`POST /dataflows`, which checks the whole document again."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from accord.access import AllowedRoots
from accord.errors import AccordError, DocumentError
from accord.web.forms import MAX_TEXT, FormField, form_document, form_fields
from accord.web.pages import Entered, acted, entered, redirect, refusal
from accord.web.posted import Posted, posted_form

router = APIRouter(include_in_schema=False)

STEPS = ("connection", "source", "dataset", "mapping", "schedule")
TITLES = {"connection": "Connection", "source": "Files or table", "dataset": "Dataset", "mapping": "Mapping",
          "schedule": "Schedule"}  # fmt: skip
MOST_ROWS = 200
"""Mapping rows a form may hold (a mapping set of more is written as a file, through the CLI or API)."""
OWN_INPUTS = {"connection": {"name", "connection"}, "dataset": {"dataset"}}
"""The inputs of a step that no schema draws."""
BLANK_ROWS = 3
PREVIEW_ROWS = 10
HINTS = {
    "schedule.frequency": "once: at the start time (or now); else every interval of minutes, hours, days or weeks.",
    "schedule.startTime": "ISO 8601, e.g. 2030-01-31T06:00:00+00:00; empty: from now.",
    "backfill": "Take the files already there on the first run (else only those that come after).",
    "errorThreshold": "Per cent of failed rows above which a batch is refused whole (empty: the server's).",
    "read.format": "Empty: found from each file's content.",
    "read.delimiter": "Empty: found from the file.",
}
"""Hints for the inputs whose schema gives no description."""


@dataclass(frozen=True)
class MappingRow:
    """One row of the mapping editor: a source column (or an expression) and the field it fills."""

    source: str = ""
    kind: str = "column"
    """column or expression"""
    target: str = ""


@dataclass
class Form:
    """What the wizard's form holds: every value by input name (mapping rows apart) and the mapping rows."""

    values: dict[str, str]
    rows: list[MappingRow]

    def hidden(self, step: str, fields: list[FormField]) -> dict[str, str]:
        """The values the step does not show, carried as hidden inputs (the rows too, off the mapping step)."""
        shown = {f.name for f in fields} | OWN_INPUTS.get(step, set())
        carried = {k: v for k, v in self.values.items() if k not in shown}
        if step != "mapping":
            for index, row in enumerate(self.rows):
                carried |= {f"map.{index}.from": row.source, f"map.{index}.kind": row.kind,
                            f"map.{index}.to": row.target}  # fmt: skip
        return carried


def _read(posted: Posted) -> Form:
    values = {k: v for k, v in posted.firsts().items()
              if k not in ("csrf_token", "step", "go") and not k.startswith("map.")}  # fmt: skip
    rows = []
    for index in range(MOST_ROWS):
        source, target = posted.one(f"map.{index}.from").strip(), posted.one(f"map.{index}.to").strip()
        if source or target:
            kind = posted.one(f"map.{index}.kind")
            rows.append(MappingRow(source, kind if kind in ("column", "expression") else "column", target))
    return Form(values, rows)


def prefixed(fields: list[FormField], prefix: str) -> list[FormField]:
    """A schema's inputs named `prefix.field`, so that two schemas (and the form's own inputs) share a form."""
    return [replace(f, name=f"{prefix}.{f.name}") for f in fields]


def _hinted(fields: list[FormField]) -> list[FormField]:
    return [replace(f, description=f.description or HINTS.get(f.name, "")) for f in fields]


def _schemas(spec: Any) -> dict[str, dict[str, Any]]:
    """The schemas each step's inputs are drawn from, by the prefix of their names."""
    from accord.ingest import ReadOptions
    from accord.sources import Schedule
    from accord.sources.dataflows import DataflowDocument

    tail = DataflowDocument.model_json_schema()["properties"]
    found = {"source": spec.source.model_json_schema(), "schedule": Schedule.model_json_schema(),
             "": {"properties": {k: tail[k] for k in ("backfill", "errorThreshold")}}}  # fmt: skip
    if spec.capabilities.files:  # rows of a table come typed: nothing to say about how to read them
        found["read"] = ReadOptions.model_json_schema()
    return found


def _step_fields(step: str, spec: Any) -> list[FormField]:
    """The inputs of a step drawn from a schema (the source's and read options', the schedule's)."""
    if spec is None:
        return []
    schemas = _schemas(spec)
    if step == "source":
        return _hinted(prefixed(form_fields(schemas["source"]), "source") +
                       (prefixed(form_fields(schemas["read"]), "read") if "read" in schemas else []))  # fmt: skip
    if step == "schedule":
        return _hinted(prefixed(form_fields(schemas["schedule"]), "schedule") + form_fields(schemas[""]))
    return []


def _draft(form: Form, spec: Any, upto: int) -> tuple[dict[str, Any], dict[str, str], list[int]]:
    """The dataflow document of the steps up to `upto`, what the form's own reading found wrong (by input
    name), and which editor row each mapping entry came from."""
    values = form.values
    draft: dict[str, Any] = {"name": values.get("name", "").strip(), "connection": values.get("connection", "")}
    errors: dict[str, str] = {}

    def read(prefix: str, schema: dict[str, Any]) -> dict[str, Any]:
        given = {k.removeprefix(f"{prefix}."): v for k, v in values.items() if k.startswith(f"{prefix}.")} \
            if prefix else dict(values)  # fmt: skip
        for field in form_fields(schema):  # a checkbox never sent (its step not shown yet) keeps its default
            if field.kind == "checkbox" and field.name not in given:
                given[field.name] = "on" if field.default else ""
        try:
            return form_document(schema, given)
        except DocumentError as exc:
            errors.update({f"{prefix}.{p['path']}" if prefix else p["path"]: p["message"] for p in exc.problems})
            return {}

    schemas = _schemas(spec) if spec is not None else {}
    if upto >= 1 and spec is not None:
        draft["source"] = read("source", schemas["source"])
        if "read" in schemas:
            draft["readOptions"] = read("read", schemas["read"])
    if upto >= 2:
        draft["dataset"] = values.get("dataset", "")
    rows: list[int] = []
    if upto >= 3:
        entries = []
        for index, row in enumerate(form.rows):
            if row.target:  # a row without a field to fill is left out (the editor lists every column)
                entries.append({"destination": row.target, ("expression" if row.kind == "expression" else "source"):
                                row.source or None})  # fmt: skip
                rows.append(index)
        draft["mapping"] = {"mappings": entries} if entries else None
    if upto >= 4 and spec is not None:
        draft["schedule"] = read("schedule", schemas["schedule"])
        draft |= read("", schemas[""])
    return draft, errors, rows


def _step_of(path: str) -> int:
    """The step where the input a problem's path names is."""
    head = path.split(".")[0].split("[")[0]
    return {"name": 0, "connection": 0, "source": 1, "read": 1, "readOptions": 1, "dataset": 2, "mapping": 3,
            "mappings": 3, "schedule": 4, "backfill": 4, "errorThreshold": 4}.get(head, 3)  # fmt: skip


def _placed(problems: list[dict[str, Any]], rows: list[int]) -> tuple[dict[str, str], dict[int, str], list[str]]:
    """Problems as the form shows them: by input name, by mapping row, and those of the mapping as a whole."""
    by_input: dict[str, str] = {}
    by_row: dict[int, str] = {}
    whole: list[str] = []
    for problem in problems:
        path, message = str(problem.get("path") or ""), str(problem.get("message", ""))
        if "caret" in problem:
            message += f" (column {problem.get('column')}: {problem['caret'].splitlines()[-1].strip() or '^'})"
        entry = re.match(r"(?:mapping\.)?mappings\[(\d+)\]", path)
        if entry and int(entry.group(1)) < len(rows):
            by_row.setdefault(rows[int(entry.group(1))], message)
        elif _step_of(path) == 3:
            whole.append(f"{path}: {message}" if path and not path.startswith("mapping") else message)
        else:
            by_input.setdefault(path.replace("readOptions.", "read.", 1), message)
    return by_input, by_row, whole


# -- the routes --------------------------------------------------------------------------------------------------


@router.get("/ui/sources/new-dataflow", response_class=HTMLResponse)
def get_new_dataflow(request: Request, connection: str = "", sandbox: str | None = None) -> Response:
    """The wizard's first step (a connection's page names its connection)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    form = Form({"connection": connection[:MAX_TEXT]}, [])
    return _page(entry, 0, form, _spec(entry, form))


@router.post("/ui/sources/new-dataflow", response_class=HTMLResponse)
async def post_new_dataflow(request: Request, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_step, request, sandbox, posted)


def _step(request: Request, sandbox: str | None, posted: Posted) -> Response:
    """The next step, the one before, or the same again (more mapping rows, a preview); a step whose parts do not
    fit is shown again with what is wrong, and so is an earlier one that was changed on the way."""
    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    entry.nothing_changed()  # a step of the wizard: the dataflow is made by POST /ui/dataflows
    step = STEPS.index(posted.one("step")) if posted.one("step") in STEPS else 0
    go = posted.one("go")
    form = _read(posted)
    spec = _spec(entry, form)
    _uncheck(form, posted, _step_fields(STEPS[step], spec))
    if oversized := posted.oversized():
        return _page(entry, step, form, spec, {k: f"longer than {MAX_TEXT:,} characters" for k in oversized},
                     error="Some fields are too long.")  # fmt: skip
    if go == "back":
        return _page(entry, max(0, step - 1), form, spec)
    if go == "more" and STEPS[step] == "mapping":
        return _mapping_page(entry, form, spec, _preview(entry, form, spec), shown=False, blank=BLANK_ROWS + 5)
    found = _checked(entry, form, spec, step)
    if found is not None:
        return found
    if STEPS[step] == "mapping":
        preview = _preview(entry, form, spec)
        if go == "preview" or preview.get("problems"):
            return _mapping_page(entry, form, spec, preview, shown=True)
    if step + 1 == STEPS.index("mapping"):
        return _mapping_page(entry, form, spec, _preview(entry, form, spec), shown=False)
    return _page(entry, min(step + 1, len(STEPS) - 1), form, spec)


@router.post("/ui/dataflows", response_class=HTMLResponse)
async def post_dataflow(request: Request, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_create, request, sandbox, posted)


def _create(request: Request, sandbox: str | None, posted: Posted) -> Response:
    """Make the dataflow the wizard holds, as `POST /dataflows` does; else the step of what is wrong."""
    from accord import sources

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    form = _read(posted)
    spec = _spec(entry, form)
    _uncheck(form, posted, _step_fields("schedule", spec))
    if oversized := posted.oversized():
        return _page(entry, 0, form, spec, {k: f"longer than {MAX_TEXT:,} characters" for k in oversized},
                     error="Some fields are too long.")  # fmt: skip
    found = _checked(entry, form, spec, len(STEPS) - 1)
    if found is not None:
        return found
    draft, _, rows = _draft(form, spec, len(STEPS) - 1)
    try:
        with entry.workspace.catalog.session() as session:
            made = sources.create_dataflow(session, entry.sandbox, draft).name
    except DocumentError as exc:
        return _shown_at_fault(entry, form, spec, exc.problems, rows, "The dataflow was not made: see what is wrong.")
    except AccordError as exc:  # made by someone else meanwhile, its connection or dataset gone
        return _page(entry, 0, form, spec, {"name": exc.message}, error=exc.message)
    return redirect(f"/ui/sources/dataflows/{quote(made)}", sandbox=entry.sandbox)


# -- what the routes share ---------------------------------------------------------------------------------------


def _spec(entry: Entered, form: Form) -> Any:
    """The connector spec of the connection the form names, or None while it names none that exists."""
    from accord import sources

    name = form.values.get("connection", "")
    if not name:
        return None
    try:
        with entry.workspace.catalog.session() as session:
            return sources.connector_spec(sources.get_connection(session, entry.sandbox, name[:200])["connector"])
    except AccordError:
        return None


def _uncheck(form: Form, posted: Posted, fields: list[FormField]) -> None:
    """A step's checkboxes as the person left them: an unticked one is sent as nothing, and must not come back
    ticked by its default."""
    if posted.one("step") in STEPS:
        for field in fields:
            if field.kind == "checkbox":
                form.values[field.name] = "on" if posted.one(field.name) in ("on", "true", "1") else ""


def _checked(entry: Entered, form: Form, spec: Any, step: int) -> Response | None:
    """The form shown again at the first step with a problem among those up to `step`; None when they fit."""
    from accord import sources

    draft, errors, rows = _draft(form, spec, step)
    try:
        with entry.workspace.catalog.session() as session:
            problems = sources.draft_problems(session, entry.sandbox, draft)
    except AccordError as exc:
        return refusal(exc)
    problems += [{"path": k, "message": v} for k, v in errors.items()]
    if spec is None and not any(p["path"] == "connection" for p in problems):
        problems.append({"path": "connection", "message": "choose a connection"})
    if not problems:
        return None
    return _shown_at_fault(entry, form, spec, problems, rows, "See what is wrong below.")


def _shown_at_fault(entry: Entered, form: Form, spec: Any, problems: list[dict[str, Any]], rows: list[int],
                    error: str) -> Response:  # fmt: skip
    first = min(_step_of(str(p.get("path") or "")) for p in problems)
    by_input, by_row, whole = _placed(problems, rows)
    if STEPS[first] == "mapping":
        return _mapping_page(entry, form, spec, _preview(entry, form, spec) if spec else {}, shown=False,
                             row_errors=by_row, whole=whole)  # fmt: skip
    return _page(entry, first, form, spec, by_input, error=error)


def _preview(entry: Entered, form: Form, spec: Any) -> dict[str, Any]:
    """The mapping tried on the first file or rows, with the caller's own folders; a failure is said, not raised."""
    from accord import sources

    draft, _, rows = _draft(form, spec, STEPS.index("mapping"))
    try:
        found = sources.preview_dataflow(entry.workspace, entry.sandbox, draft,
                                         AllowedRoots.for_caller(entry.workspace.settings, entry.caller),
                                         PREVIEW_ROWS)  # fmt: skip
    except AccordError as exc:
        return {"failed": exc.message, "rows": [], "columns": [], "fields": [], "problems": []}
    return {**found, "entry_rows": rows}


def _mapping_page(entry: Entered, form: Form, spec: Any, preview: dict[str, Any], shown: bool,
                  row_errors: dict[int, str] | None = None, whole: list[str] | None = None,
                  blank: int = BLANK_ROWS) -> Response:  # fmt: skip
    """The mapping editor: a row per source column when there is none yet, and the preview of what it makes."""
    rows = list(form.rows)
    columns = preview.get("columns") or []
    if not rows and columns:
        rows = [MappingRow(column) for column in columns]
        form = Form(form.values, rows)
    _, by_row, whole_found = _placed(preview.get("problems") or [], preview.get("entry_rows") or [])
    return _page(entry, STEPS.index("mapping"), form, spec, row_errors=(row_errors or {}) | by_row,
                 whole=(whole or []) + (whole_found if shown else []), preview=preview if shown else None,
                 columns=columns, item=preview.get("item"), failed=preview.get("failed"), blank=blank)  # fmt: skip


def _page(entry: Entered, step: int, form: Form, spec: Any, errors: dict[str, str] | None = None,
          error: str | None = None, blank: int = BLANK_ROWS, **shown: Any) -> Response:  # fmt: skip
    """The wizard at a step: that step's inputs, the others carried as hidden fields."""
    from accord import lake, sources

    name = STEPS[step]
    fields = _step_fields(name, spec)
    extra: dict[str, Any] = {}
    try:
        with entry.workspace.catalog.session() as session:
            if name == "connection":
                extra["connections"] = sources.list_connections(session, entry.sandbox)
            elif name == "dataset":
                extra["datasets"] = lake.list_datasets(session, entry.sandbox)
            elif name == "mapping":
                dataset = form.values.get("dataset", "")
                extra["targets"] = sources.target_fields(session, entry.sandbox, dataset) if dataset else []
    except AccordError as exc:
        error = error or exc.message
    rows = list(form.rows)
    if name == "mapping":
        rows += [MappingRow()] * min(blank, MOST_ROWS - len(rows))
    return entry.render("sources/new_dataflow.html", f"New dataflow: {TITLES[name]}", steps=STEPS, titles=TITLES,
                        step=name, index=step, fields=fields, values=form.values, hidden=form.hidden(name, fields),
                        rows=rows, errors=errors or {}, error=error, spec=spec.to_document() if spec else None,
                        shown_preview=shown.pop("preview", None), **extra, **shown)  # fmt: skip
