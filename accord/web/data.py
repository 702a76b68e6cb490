"""The data pages: schemas and their field trees, datasets with their preview, statistics, batches and row errors,
identity namespaces; the forms that create each, and an event dataset's time-to-live.

Pages read through the same service functions as the API (`accord.schema`, `accord.lake`, `accord.identity`) and
only what is already stored: a dataset's preview reads a few rows, its statistics come from its Parquet files'
footers (`lake.stored_statistics`: no row is read), a batch's row errors are read up to a limit, lists come in
pages. Forms post to the API's paths under `/ui` (`/ui/schemas` does what `POST /schemas` does)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from accord import identity, lake, schema
from accord.access import Permission
from accord.errors import AccordError, DocumentError, InvalidInputError, NotFoundError
from accord.web.forms import MAX_TEXT
from accord.web.operations import operations_of
from accord.web.pages import Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

PAGE_SIZE = 50
"""Rows of a list page."""
INDEX_SIZE = 10
"""Rows of each list on the data index, which links to the whole list."""
PREVIEW_ROWS = (20, 100)
"""How many rows a dataset's preview may show (the first is the default)."""
BATCHES_SHOWN = 20
ROW_ERRORS_SHOWN = 200
IDENTITY_ROWS = 3
"""Identity descriptors the schema form offers."""
CELL = 120
"""Characters of a value a table shows (the rest is cut, and said so)."""
NAME_LIMIT, TITLE_LIMIT, DESCRIPTION_LIMIT = 128, 256, 1024
"""The longest names, titles and descriptions the catalog stores; a form refuses longer ones on their field."""

SCHEMA_FIELDS = {"name", "title", "class", "fieldGroups", "identities"} | {
    f"identity-{i}" for i in range(IDENTITY_ROWS)
}
DATASET_FIELDS = {"name", "schema", "profileEnabled", "schemaContract"}
NAMESPACE_FIELDS = {"symbol", "name", "type", "description"}
"""Each form's fields, as its errors name them."""

Text = Annotated[str, Form(max_length=MAX_TEXT)]
"""A form's text field: longer ones are refused before the route (the tighter bounds of each field are said on the
form, beside it)."""
Texts = Annotated[list[str] | None, Form(max_length=100)]
"""A field the form sends once per input of the same name (checkboxes, the identities' rows)."""
Number = Annotated[str, Query(max_length=20)]
"""A whole number in a query, read by `_whole`, which says what is wrong with one that is not."""


@dataclass(frozen=True)
class Paged:
    """One page of a list."""

    items: Sequence[Any]
    page: int
    pages: int
    total: int


def _paged(items: Sequence[T], page: int, size: int = PAGE_SIZE) -> Paged:
    pages = max(1, -(-len(items) // size))
    page = min(page, pages)
    return Paged(items[(page - 1) * size : page * size], page, pages, len(items))


def _whole(text: str, what: str, low: int, high: int) -> int:
    """A whole number typed or sent as text, within bounds; else the error says what is wrong."""
    if not re.fullmatch(r"\s*\d{1,9}\s*", text) or not low <= int(text) <= high:
        raise InvalidInputError(f"{what} must be a whole number from {low:,} to {high:,}, not {text[:40]!r}")
    return int(text)


def _checked_name(name: str, what: str) -> str:
    """A name from a page's path, refused as unknown when no stored one could be that long."""
    if len(name) > NAME_LIMIT:
        raise NotFoundError(f"no {what} has a name of {len(name):,} characters (at most {NAME_LIMIT})")
    return name


def _bounded(**fields: tuple[str, int]) -> None:
    """Refuse, each on its field, the values longer than their limit."""
    problems = [{"path": field, "message": f"at most {limit:,} characters, not {len(value):,}"}
                for field, (value, limit) in fields.items() if len(value) > limit]  # fmt: skip
    if problems:
        raise DocumentError("the form", problems)


def _placed(exc: AccordError, place: Callable[[str], str | None], by_code: dict[str, str]) -> dict[str, str]:
    """An error's messages by the form field each concerns: the field its code concerns, else its problems by
    their path (`place` names the field, or None for the form as a whole)."""
    if exc.code in by_code:
        return {by_code[exc.code]: exc.message}
    found: dict[str, str] = {}
    for problem in getattr(exc, "problems", None) or exc.details.get("problems") or []:
        field = place(str(problem.get("path") or ""))
        if field is not None:
            found.setdefault(field, str(problem.get("message", "")))
    return found


def _said(error: AccordError | None, errors: dict[str, str], fields: set[str]) -> str | None:
    """What the top of a form says of a refusal: that nothing was made, and why unless every problem is said
    beside the field it concerns."""
    if error is None:
        return None
    if errors and set(errors) <= fields and isinstance(error, DocumentError):
        return "Nothing was created: what is wrong is said beside each field."
    return f"Nothing was created: {error.message}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= CELL else text[: CELL - 1] + "…"


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A preview row (nested, in XDM shape) as one cell per field path."""
    cells: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, dict) and value:
            cells.update(_flat(value, f"{prefix}{key}."))
        else:
            cells[f"{prefix}{key}"] = _shown(value)
    return cells


# -- the index and the lists ------------------------------------------------------------------------


@router.get("/ui/data", response_class=HTMLResponse)
def get_data(request: Request, sandbox: str | None = None) -> Response:
    """Schemas, datasets and identity namespaces, each section shown to those who hold its View permission."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    found: dict[str, Any] = {"schemas": None, "datasets": None, "namespaces": None}
    with entry.workspace.catalog.session() as session:
        if entry.holds(Permission.VIEW_SCHEMAS):
            found["schemas"] = _paged(schema.list_schemas(session, entry.sandbox), 1, INDEX_SIZE)
        if entry.holds(Permission.VIEW_DATASETS):
            found["datasets"] = _paged(lake.list_datasets(session, entry.sandbox), 1, INDEX_SIZE)
        if entry.holds(Permission.VIEW_IDENTITY_NAMESPACES):
            found["namespaces"] = _paged(identity.list_namespaces(session, entry.sandbox), 1, INDEX_SIZE)
    return entry.render("data/index.html", "Data", **found)


@router.get("/ui/data/schemas", response_class=HTMLResponse)
def get_schemas(request: Request, sandbox: str | None = None, page: Number = "1") -> Response:
    return _list(request, sandbox, page, "schemas", schema.list_schemas)


@router.get("/ui/data/datasets", response_class=HTMLResponse)
def get_datasets(request: Request, sandbox: str | None = None, page: Number = "1") -> Response:
    return _list(request, sandbox, page, "datasets", lake.list_datasets)


@router.get("/ui/data/namespaces", response_class=HTMLResponse)
def get_namespaces(request: Request, sandbox: str | None = None, page: Number = "1",
                   created: Annotated[str, Query(max_length=64)] = "") -> Response:  # fmt: skip
    return _list(request, sandbox, page, "namespaces", identity.list_namespaces, created=created)


def _list(request: Request, sandbox: str | None, page: str, kind: str, listed: Callable[[Any, str], Sequence[Any]],
          **values: Any) -> Response:  # fmt: skip
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        number = _whole(page, "the page", 1, 100_000)
        with entry.workspace.catalog.session() as session:
            shown = _paged(listed(session, entry.sandbox), number)
    except AccordError as exc:
        return refusal(exc)
    titles = {"schemas": "Schemas", "datasets": "Datasets", "namespaces": "Identity namespaces"}
    values[kind] = shown
    return entry.render("data/list.html", titles[kind], kind=kind, **values)


# -- schemas ----------------------------------------------------------------------------------------


@router.get("/ui/data/schemas/{name}", response_class=HTMLResponse)
def get_schema(request: Request, name: str, sandbox: str | None = None) -> Response:
    """A schema and its tree of fields: types, identities, and the class or field groups each comes from."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        with entry.workspace.catalog.session() as session:
            resolved, lines = schema.schema_outline(session, entry.sandbox, _checked_name(name, "schema"))
    except AccordError as exc:
        return refusal(exc)
    return entry.render("data/schema.html", f"Schema {resolved.name}", schema=resolved.to_document(), lines=lines)


@router.get("/ui/data/new-schema", response_class=HTMLResponse)
def get_new_schema(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _schema_form(entry, {"class": "profile", "fieldGroups": [], "identities": [], "primary": "0"})


@router.post("/ui/schemas", response_class=HTMLResponse)
def post_schema(
    request: Request, sandbox: str | None = None, csrf_token: Text = "", name: Text = "", title: Text = "",
    class_name: Annotated[str, Form(alias="class", max_length=MAX_TEXT)] = "",
    field_groups: Annotated[list[str] | None, Form(alias="fieldGroups", max_length=100)] = None,
    identity_path: Texts = None, identity_namespace: Texts = None, primary: Text = "",
) -> Response:  # fmt: skip
    """Create a schema from a class, field groups and identities (`POST /schemas`); the form again on a refusal."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    field_groups, paths, namespaces = field_groups or [], identity_path or [], identity_namespace or []
    rows = [(path.strip(), namespace.strip())
            for path, namespace in zip(paths[:IDENTITY_ROWS], namespaces[:IDENTITY_ROWS], strict=False)]  # fmt: skip
    given = [index for index, (path, namespace) in enumerate(rows) if path or namespace]
    document = {"name": name.strip(), "title": title.strip(), "class": class_name, "fieldGroups": field_groups[:100],
                "identities": [{"path": rows[i][0], "namespace": rows[i][1], "primary": primary == str(i)}
                               for i in given]}  # fmt: skip
    kept = {**document, "identities": rows, "primary": primary}
    try:
        _bounded(name=(name, NAME_LIMIT), title=(title, TITLE_LIMIT),
                 fieldGroups=("".join(field_groups), 100 * NAME_LIMIT),
                 **{f"identity-{i}": (" ".join(row), 2 * NAME_LIMIT) for i, row in enumerate(rows)})  # fmt: skip
        with entry.workspace.catalog.session() as session:
            created = schema.create_schema(session, entry.sandbox, document)
    except AccordError as exc:

        def place(path: str) -> str | None:
            if found := re.fullmatch(r"identities\[(\d+)\].*", path):
                index = int(found[1])
                return f"identity-{given[index]}" if index < len(given) else "identities"
            return re.sub(r"\[\d+\].*|\..*", "", path) or None

        return _schema_form(entry, kept, exc, _placed(exc, place, {"SCHEMA-0410-409": "name"}))
    return redirect(f"/ui/data/schemas/{quote(created.name, safe='')}", sandbox=entry.sandbox)


def _schema_form(entry: Entered, values: dict[str, Any], error: AccordError | None = None,
                 errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    groups, namespaces = None, None
    with entry.workspace.catalog.session() as session:
        if entry.holds(Permission.VIEW_SCHEMAS):  # else the form takes the names as typed
            groups = schema.list_field_groups(session, entry.sandbox)
        if entry.holds(Permission.VIEW_IDENTITY_NAMESPACES):
            namespaces = identity.list_namespaces(session, entry.sandbox)
    paths = sorted({path for group in groups or () for path, spec in schema.walk(group.fields)
                    if spec.type == schema.FieldType.string})  # fmt: skip
    rows = list(values.get("identities") or [])[:IDENTITY_ROWS]
    rows += [("", "")] * (IDENTITY_ROWS - len(rows))
    return entry.render("data/new_schema.html", "Create a schema", values=values, rows=rows, groups=groups,
                        namespaces=namespaces, paths=paths, classes=[(c, c) for c in schema.CLASS_NAMES],
                        errors=errors or {}, error=_said(error, errors or {}, SCHEMA_FIELDS))  # fmt: skip


# -- datasets ---------------------------------------------------------------------------------------


@router.get("/ui/data/datasets/{name}", response_class=HTMLResponse)
def get_dataset(request: Request, name: str, sandbox: str | None = None, rows: Number = "") -> Response:
    """A dataset: its facts, a preview of its first rows, statistics from its files' footers, its newest batches,
    and its time-to-live when it holds events."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        limit = _whole(rows, "the rows to preview", 1, PREVIEW_ROWS[-1]) if rows else PREVIEW_ROWS[0]
        return _dataset_page(entry, _checked_name(name, "dataset"), limit)
    except AccordError as exc:
        return refusal(exc)


def _dataset_page(entry: Entered, name: str, limit: int = PREVIEW_ROWS[0], ttl_error: str | None = None,
                  ttl_typed: str | None = None) -> Response:  # fmt: skip
    ws, where = entry.workspace, entry.sandbox
    with ws.catalog.session() as session:
        dataset = lake.get_dataset(session, where, name)
        batches = lake.list_batches(session, where, dataset["name"], BATCHES_SHOWN)
    preview = [_flat(row) for row in lake.preview(ws, where, dataset["name"], limit)]
    columns = list(dict.fromkeys(path for row in preview for path in row))
    stats = lake.stored_statistics(ws, where, dataset["name"])
    fields = [{"path": path, **figures} for path, figures in stats["fields"].items()]
    return entry.render(
        "data/dataset.html", f"Dataset {dataset['name']}", dataset=dataset, batches=batches, preview=preview,
        columns=columns, limit=limit, choices=PREVIEW_ROWS, rows_stored=stats["rowCount"],
        filled=[f for f in fields if f["count"]], empty=[f["path"] for f in fields if f["count"] == 0],
        uncounted=[f["path"] for f in fields if f["count"] is None],
        ttl_error=ttl_error, ttl_typed=ttl_typed,
    )  # fmt: skip


@router.get("/ui/data/batches/{batch_id}", response_class=HTMLResponse)
def get_batch(request: Request, batch_id: str, sandbox: str | None = None) -> Response:
    """A batch: its status and counts, and its rows that failed, each error with its file, line, row and field."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        if len(batch_id) > 64:
            raise NotFoundError("no batch has an id that long")
        with entry.workspace.catalog.session() as session:
            batch = lake.get_batch(session, entry.sandbox, batch_id)
        diagnostics = list(lake.batch_errors(entry.workspace, entry.sandbox, batch_id, ROW_ERRORS_SHOWN))
    except AccordError as exc:
        return refusal(exc)
    errors = [{"file": d.get("file"), "line": d["lineNumber"], "row": d["rowNumber"], "field": e.get("path") or "",
               "code": e.get("code", ""), "message": e.get("message", ""),
               "record": _shown(d["record"] if d["record"] is not None else d["_corrupt_record"])}
              for d in diagnostics for e in d["_errors"] or [{}]]  # fmt: skip
    return entry.render("data/batch.html", f"Batch {batch['id']}", batch=batch, errors=errors,
                        cut=len(diagnostics) >= ROW_ERRORS_SHOWN, limit=ROW_ERRORS_SHOWN)  # fmt: skip


@router.get("/ui/data/new-dataset", response_class=HTMLResponse)
def get_new_dataset(request: Request, sandbox: str | None = None,
                    schema: Annotated[str, Query(max_length=NAME_LIMIT)] = "") -> Response:  # fmt: skip
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _dataset_form(entry, {"schema": schema, "schemaContract": "discard_row"})


@router.post("/ui/datasets", response_class=HTMLResponse)
def post_dataset(
    request: Request, sandbox: str | None = None, csrf_token: Text = "", name: Text = "",
    schema_name: Annotated[str, Form(alias="schema", max_length=MAX_TEXT)] = "",
    profile_enabled: Annotated[str, Form(alias="profileEnabled", max_length=MAX_TEXT)] = "",
    schema_contract: Annotated[str, Form(alias="schemaContract", max_length=MAX_TEXT)] = "discard_row",
) -> Response:  # fmt: skip
    """Create a dataset on a schema (`POST /datasets`); the form again on a refusal, and nothing made."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed: dict[str, Any] = {"name": name.strip(), "schema": schema_name.strip(),
                             "profileEnabled": profile_enabled == "on", "schemaContract": schema_contract}  # fmt: skip
    try:
        _bounded(name=(name, NAME_LIMIT), schema=(schema_name, NAME_LIMIT), schemaContract=(schema_contract, 32))
        with entry.workspace.catalog.session() as session:
            record = lake.create_dataset(session, entry.sandbox, typed["name"], typed["schema"],
                                         typed["profileEnabled"], schema_contract)  # fmt: skip
            created = record.name
    except AccordError as exc:
        by_code = {"DATASET-0400-400": "name", "DATASET-0409-409": "name", "SCHEMA-0404-404": "schema",
                   "DATASET-0407-400": "schemaContract", "SCHEMA-0409-409": "profileEnabled"}  # fmt: skip
        return _dataset_form(entry, typed, exc, _placed(exc, lambda path: path or None, by_code))
    return redirect(f"/ui/data/datasets/{quote(created, safe='')}", sandbox=entry.sandbox)


def _dataset_form(entry: Entered, values: dict[str, Any], error: AccordError | None = None,
                  errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    schemas = None
    if entry.holds(Permission.VIEW_SCHEMAS):  # else the form takes the schema's name as typed
        with entry.workspace.catalog.session() as session:
            schemas = [(s.name, f"{s.name} ({s.class_name})") for s in schema.list_schemas(session, entry.sandbox)]
    return entry.render("data/new_dataset.html", "Create a dataset", values=values, schemas=schemas,
                        contracts=[(c, c) for c in lake.CONTRACTS], errors=errors or {},
                        error=_said(error, errors or {}, DATASET_FIELDS))  # fmt: skip


@router.post("/ui/datasets/{name}/ttl", response_class=HTMLResponse)
def post_ttl(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "",
             days: Text = "") -> Response:  # fmt: skip
    """Set or clear an event dataset's time-to-live (`PATCH /datasets/{name}` with `ttlDays`; 0 or nothing
    clears it); the dataset's page again with the error beside the field on a refusal."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    try:
        name = _checked_name(name, "dataset")
        with entry.workspace.catalog.session() as session:
            lake.get_dataset(session, entry.sandbox, name)  # an unknown dataset is a refusal, not a form's error
    except AccordError as exc:
        return refusal(exc)
    try:
        wanted = _whole(days, "the time-to-live in days", 0, 36_500) if days.strip() else 0
        with entry.workspace.catalog.session() as session:
            lake.set_ttl(session, entry.sandbox, name, wanted or None)
    except AccordError as exc:
        return _dataset_page(entry, name, ttl_error=exc.message, ttl_typed=days[:40])
    return redirect(f"/ui/data/datasets/{quote(name, safe='')}", sandbox=entry.sandbox)


@router.post("/ui/datasets/{name}/purge")
def post_purge(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "") -> Response:
    """Remove the events older than the dataset's time-to-live from the lake (`POST /datasets/{name}/purge`), as
    an operation one can leave and come back to."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    try:
        with entry.workspace.catalog.session() as session:
            dataset = lake.get_dataset(session, entry.sandbox, _checked_name(name, "dataset"))
    except AccordError as exc:
        return refusal(exc)
    ws, where, shown = entry.workspace, entry.sandbox, dataset["name"]

    def work(told: Callable[[str, float | None], None]) -> str:
        told(f"removing the expired events of {shown}", None)
        done = lake.purge_expired(ws, where, shown)
        told(f"{done['purgedRecords']:,} events removed from {done['batches']} batches", 1.0)
        return f"/ui/data/datasets/{quote(shown, safe='')}?sandbox={quote(where, safe='')}"

    operation = operations_of(entry).start(f"Purge of the expired events of {shown}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)


# -- identity namespaces ----------------------------------------------------------------------------


@router.get("/ui/data/new-namespace", response_class=HTMLResponse)
def get_new_namespace(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _namespace_form(entry, {"type": "cross_device"})


@router.post("/ui/namespaces", response_class=HTMLResponse)
def post_namespace(
    request: Request, sandbox: str | None = None, csrf_token: Text = "", symbol: Text = "", name: Text = "",
    identity_type: Annotated[str, Form(alias="type", max_length=MAX_TEXT)] = "", description: Text = "",
) -> Response:  # fmt: skip
    """Create a custom identity namespace (`POST /namespaces`); its symbol can never be changed or reused."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed = {"symbol": symbol.strip(), "name": name.strip(), "type": identity_type, "description": description.strip()}
    try:
        _bounded(symbol=(symbol, 64), name=(name, TITLE_LIMIT), type=(identity_type, 32),
                 description=(description, DESCRIPTION_LIMIT))  # fmt: skip
        with entry.workspace.catalog.session() as session:
            created = identity.create_namespace(session, entry.sandbox, typed["symbol"], typed["name"], identity_type,
                                                typed["description"])  # fmt: skip
    except AccordError as exc:
        by_code = {"IDENTITY-0400-400": "symbol", "IDENTITY-0401-400": "type", "IDENTITY-0409-409": "symbol"}
        return _namespace_form(entry, typed, exc, _placed(exc, lambda path: path or None, by_code))
    return redirect("/ui/data/namespaces", sandbox=entry.sandbox, created=created.symbol)


def _namespace_form(entry: Entered, values: dict[str, Any], error: AccordError | None = None,
                    errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    return entry.render("data/new_namespace.html", "Create an identity namespace", values=values,
                        types=[(t.value, t.value) for t in identity.IdentityType], errors=errors or {},
                        error=_said(error, errors or {}, NAMESPACE_FIELDS))  # fmt: skip
