"""Data usage labels: the labels a sandbox may use (core and custom), and a page per dataset with its labels and
each field's, where they are added and removed (the services of `POST/DELETE /datasets/{name}/labels`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from accord import governance
from accord.access import Permission
from accord.errors import AccordError
from accord.web.governance.fields import TEXT, by_field, checked_name, too_long
from accord.web.pages import Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)
FIELD = 512
"""The longest field path a form may name (as the API's `field`)."""
Text = Annotated[str, Form()]


@router.get("/ui/governance/labels", response_class=HTMLResponse)
def get_labels(request: Request, sandbox: str | None = None) -> Response:
    """The labels (core, then custom), the datasets to label, and the form of a custom label."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _labels_page(entry)


@router.post("/ui/labels", response_class=HTMLResponse)
def post_label(request: Request, sandbox: str | None = None, name: Text = "", description: Text = "",
               csrf_token: Text = "") -> Response:  # fmt: skip
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed = {"name": name, "description": description}
    errors = too_long(name=(name, 64), description=(description, TEXT))
    if errors:
        return _labels_page(entry, typed, errors, "The label was not created: see the fields marked.")
    try:
        with entry.workspace.catalog.session() as session:
            governance.create_label(session, entry.sandbox, name.strip(), description.strip())
    except AccordError as exc:
        return _labels_page(entry, typed, {"name": exc.message}, exc.message)
    return redirect("/ui/governance/labels", sandbox=entry.sandbox)


def _labels_page(entry: Entered, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 error: str | None = None) -> Response:  # fmt: skip
    from accord import lake

    with entry.workspace.catalog.session() as session:
        labels = governance.list_labels(session, entry.sandbox)
        datasets = lake.list_datasets(session, entry.sandbox) if entry.holds(Permission.VIEW_DATASETS) else None
    return entry.render("governance/labels.html", "Data usage labels", labels=labels, datasets=datasets,
                        typed=typed or {}, errors=errors or {}, error=error)  # fmt: skip


@router.get("/ui/governance/datasets/{name}", response_class=HTMLResponse)
def get_dataset_labels(request: Request, name: str, sandbox: str | None = None) -> Response:
    """A dataset's labels and each field's, with the forms that add and remove them."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _dataset_page(entry, name)


@router.post("/ui/datasets/{name}/labels", response_class=HTMLResponse)
def post_dataset_labels(request: Request, name: str, sandbox: str | None = None,
                        labels: Annotated[list[str] | None, Form()] = None, field: Text = "",
                        csrf_token: Text = "") -> Response:  # fmt: skip
    """Label the dataset (no field) or one of its fields, as `POST /datasets/{name}/labels` does."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    labels = labels or []
    typed = {"field": field, "labels": labels}
    errors = too_long(field=(field, FIELD), labels=(",".join(labels), 100 * 65))
    if errors:
        return _dataset_page(entry, name, typed, errors, "No label was added: see the fields marked.")
    try:
        with entry.workspace.catalog.session() as session:
            governance.add_labels(session, entry.sandbox, name, labels, field)
    except AccordError as exc:
        if exc.kind != "invalid":
            return refusal(exc)
        return _dataset_page(entry, name, typed, by_field(exc) or {"labels": exc.message}, exc.message)
    return redirect(f"/ui/governance/datasets/{quote(name)}", sandbox=entry.sandbox)


@router.post("/ui/datasets/{name}/labels/remove", response_class=HTMLResponse)
def post_remove_labels(request: Request, name: str, sandbox: str | None = None, label: Text = "", field: Text = "",
                       csrf_token: Text = "") -> Response:  # fmt: skip
    """Take a label off the dataset or one of its fields, as `DELETE /datasets/{name}/labels` does."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    if too_long(field=(field, FIELD), label=(label, 64)) or not label:
        return _dataset_page(entry, name, error="Name one label, and the field it is on (if any).")
    try:
        with entry.workspace.catalog.session() as session:
            governance.remove_labels(session, entry.sandbox, name, [label], field)
    except AccordError as exc:
        return _dataset_page(entry, name, error=exc.message)
    return redirect(f"/ui/governance/datasets/{quote(name)}", sandbox=entry.sandbox)


def _dataset_page(entry: Entered, name: str, typed: dict[str, Any] | None = None,
                  errors: dict[str, str] | None = None, error: str | None = None) -> Response:  # fmt: skip
    try:
        checked_name(name, "dataset")
        with entry.workspace.catalog.session() as session:
            held = governance.dataset_labels(session, entry.sandbox, name)
            fields = governance.dataset_fields(session, entry.sandbox, name)
            labels = governance.list_labels(session, entry.sandbox)
    except AccordError as exc:
        return refusal(exc)
    return entry.render("governance/dataset.html", f"Labels of {held['dataset']}", dataset=held["dataset"],
                        labels_held=held["labels"], fields_held=held["fields"], fields=fields, labels=labels,
                        typed=typed or {}, errors=errors or {}, error=error)  # fmt: skip
