"""CLI: privacy jobs (access and delete requests, their jobs and reports, access bundles)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Any

import typer

from accord.access import campaign_withheld
from accord.cli.output import emit, new_table, out, plain, progress_bar
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

privacy_app = typer.Typer(
    help="Privacy jobs (GDPR, CCPA): everything held about people (access), or their removal from every store "
    "(delete).",
    no_args_is_help=True,
)

IdentityOption = typer.Option(
    None, "--identity", "-i", help="NAMESPACE:VALUE, such as Email:ann@example.com; repeat it for more (1,000 at most)."
)
FileOption = typer.Option(
    None, "--file", "-f", help="A CSV file of identities: a header `namespace,value`, then one identity a line."
)


def _identities(given: list[str] | None, file: Path | None) -> tuple[list[Any], list[str]]:
    """The identities asked for, and where each came from (for the problems): the options, then the file's lines."""
    items: list[Any] = list(given or [])
    places = [f"--identity {index + 1}" for index in range(len(items))]
    if file is not None:
        try:
            with file.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {file}: {exc}", code="PRIVACY-0404-400", path=str(file)) from None
        if rows and not {"namespace", "value"} <= set(rows[0]):
            raise InvalidInputError(f"{file}: the first line must name the columns `namespace,value`",
                                    code="PRIVACY-0404-400", path=str(file))  # fmt: skip
        for line, row in enumerate(rows, start=2):
            items.append({"namespace": row.get("namespace") or "", "value": row.get("value") or ""})
            places.append(f"{file.name} line {line}")
    return items, places


def _run(kind: str, given: list[str] | None, file: Path | None, as_json: bool) -> dict[str, Any]:
    from accord import governance

    items, places = _identities(given, file)
    with progress_bar(not as_json) as progress:
        progress(f"privacy {kind} job", None)
        caller = state.acting()
        return governance.run_privacy_job(
            state.workspace(), state.sandbox, kind, items, places=places, progress=progress,
            requested_by=caller.described if caller is not None else state.actor(),
            campaign_withheld=campaign_withheld(caller, changes=kind == "delete"))  # fmt: skip


def _describe(job: dict[str, Any]) -> None:
    colour = "green" if job["status"] == "complete" else "red"
    summary = job["summary"]
    out.print(f"privacy {plain(job['kind'])} job [bold]{plain(job['id'])}[/] [{colour}]{plain(job['status'])}[/]: "
              f"{plain(summary.get('people', 0))} people, {plain(summary.get('identities', 0))} identities, "
              f"{summary.get('found', 0):,} records found, {summary.get('removed', 0):,} removed "
              f"({plain(job['seconds'])} s)", highlight=False, markup=True)  # fmt: skip
    table = new_table("store", "reached", "found", "removed", "errors")
    for report in job["report"]:
        reached = "yes" if report["reached"] else f"no: {report.get('whyNot', '')}"
        errors = "; ".join(e["message"] for e in report["errors"])
        table.add_row(report["store"], reached, f"{report['found']:,}", f"{report['removed']:,}", errors)
    out.print(table)
    if job["error"]:
        out.print(job["error"], style="red", highlight=False)


def _save_bundle(job_id: str, output: Path) -> None:
    from accord import governance

    source = governance.privacy_bundle(state.workspace(), state.sandbox, job_id)
    try:
        shutil.copyfile(source, output)
    except OSError as exc:
        raise InvalidInputError(f"cannot write the bundle to {output}: {exc.strerror}; the job {job_id} is complete: "
                                f"save its bundle with `accord privacy jobs {job_id} --output FILE`",
                                code="PRIVACY-0406-400", path=str(output), job=job_id) from None  # fmt: skip


def _writable(output: Path | None) -> None:
    """Refuse, before any job runs, a bundle file that cannot be written: its folder missing, or a folder."""
    if output is not None and (output.is_dir() or not output.parent.is_dir() or not os.access(output.parent, os.W_OK)):
        why = "is a folder" if output.is_dir() else "is in a folder that does not exist" if not \
            output.parent.is_dir() else "is in a folder this user may not write to"  # fmt: skip
        raise InvalidInputError(f"--output {output} {why}: name a file to write the bundle to",
                                code="PRIVACY-0406-400", path=str(output))  # fmt: skip


@privacy_app.command("access")
def access(
    identity: list[str] = IdentityOption,
    file: Path = FileOption,
    output: Path = typer.Option(None, "--output", "-o", help="Write the bundle (JSON) to this file."),
    as_json: bool = JsonFlag,
) -> None:
    """Gather everything held about the people these identities belong to into a bundle (JSON)."""
    _writable(output)
    job = _run("access", identity, file, as_json)
    if output is not None and job["bundleReady"]:
        _save_bundle(job["id"], output)

    def human(j: dict[str, Any]) -> None:
        _describe(j)
        if output is not None and j["bundleReady"]:
            out.print(f"bundle written to {output}", highlight=False)
        elif j["bundleReady"]:
            out.print(f"save the bundle with: accord privacy jobs {j['id']} --output FILE", highlight=False)

    emit(job, as_json, human)
    if job["status"] != "complete":
        raise typer.Exit(1)


@privacy_app.command("delete")
def delete(identity: list[str] = IdentityOption, file: Path = FileOption, as_json: bool = JsonFlag) -> None:
    """Remove the people these identities belong to from every store; destinations that can delete records are
    told. The job keeps no identity in clear once it ends."""
    job = _run("delete", identity, file, as_json)
    emit(job, as_json, _describe)
    if job["status"] != "complete":
        raise typer.Exit(1)


@privacy_app.command("jobs")
def jobs(
    job_id: str = typer.Argument(None, help="One job's id: its report per store."),
    output: Path = typer.Option(None, "--output", "-o", help="With a job's id: write its bundle (JSON) to this file."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    as_json: bool = JsonFlag,
) -> None:
    """The sandbox's privacy jobs, newest first; or one job's report (and its bundle, with --output)."""
    from accord import governance

    workspace = state.workspace()
    if job_id is None:
        if output is not None:
            raise InvalidInputError("--output needs a job's id: accord privacy jobs JOB --output FILE",
                                    code="PRIVACY-0406-400")  # fmt: skip
        found = governance.list_privacy_jobs(workspace, state.sandbox, limit)

        def listing(items: list[dict[str, Any]]) -> None:
            table = new_table("id", "kind", "status", "people", "found", "removed", "created")
            for j in items:
                summary = j["summary"]
                table.add_row(j["id"], j["kind"], j["status"], str(summary.get("people", "")),
                              f"{summary.get('found', 0):,}", f"{summary.get('removed', 0):,}",
                              (j["createdAt"] or "")[:19])  # fmt: skip
            out.print(table)

        emit(found, as_json, listing)
        return
    job = governance.get_privacy_job(workspace, state.sandbox, job_id)
    if output is not None:
        _save_bundle(job_id, output)

    def one(j: dict[str, Any]) -> None:
        _describe(j)
        if output is not None:
            out.print(f"bundle written to {output}", highlight=False)

    emit(job, as_json, one)
