"""CLI: segment definitions (PQL), validation, estimates, batch jobs, members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import destinations, segment
from accord.cli.output import emit, emit_lines, new_table, out, progress_bar
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

segment_app = typer.Typer(help="Audiences: PQL definitions, batch jobs, estimates, members.", no_args_is_help=True)


def _expression(pql: str | None, file: Path | None) -> str:
    if (pql is None) == (file is None):
        raise InvalidInputError("give the expression with --pql or --file (one of them)", code="SEGMENT-0407-400")
    if file is not None:
        try:
            return file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {file}: {exc}", code="SEGMENT-0408-400") from None
    return pql or ""


@segment_app.command("create")
def segment_create(
    name: str = typer.Argument(...),
    pql: str = typer.Option(None, "--pql", help="The PQL expression."),
    file: Path = typer.Option(None, "--file", "-f", help="A file holding the PQL expression."),
    streaming: bool = typer.Option(False, "--streaming", help="Also evaluate as profiles change (if it can)."),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonFlag,
) -> None:
    """Create a segment from a PQL expression."""
    text = _expression(pql, file)
    document = {"name": name, "description": description, "expression": {"type": "PQL", "value": text},
                "evaluationInfo": {"streaming": {"enabled": streaming}}}  # fmt: skip
    with state.workspace().catalog.session() as session:
        created = segment.create_segment(session, state.sandbox, document)
    emit(created, as_json, lambda d: out.print(
        f"segment {d['name']} ({d['id']}) created; streaming: "
        f"{'yes' if d['evaluationInfo']['streaming']['enabled'] else 'no'} ({d['streamingReason']})"))  # fmt: skip


@segment_app.command("update")
def segment_update(
    name: str = typer.Argument(..., help="The segment to change (name or id)."),
    pql: str = typer.Option(None, "--pql", help="A new PQL expression (it replaces a composition)."),
    file: Path = typer.Option(None, "--file", "-f", help="A file holding the new PQL expression."),
    new_name: str = typer.Option(None, "--name", help="A new name."),
    description: str = typer.Option(None, "--description"),
    streaming: bool = typer.Option(None, "--streaming/--no-streaming", help="Evaluate as profiles change, or not."),
    as_json: bool = JsonFlag,
) -> None:
    """Change a segment: its expression, name, description or streaming; what is not given is kept."""
    text = _expression(pql, file) if pql is not None or file is not None else None
    with state.workspace().catalog.session() as session:
        changed = destinations.change_segment_checked(session, state.sandbox, name, pql=text, new_name=new_name,
                                                      description=description, streaming=streaming)  # fmt: skip
    emit(changed, as_json, lambda d: out.print(
        f"segment {d['name']} ({d['id']}) updated; streaming: "
        f"{'yes' if d['evaluationInfo']['streaming']['enabled'] else 'no'} ({d['streamingReason']})"))  # fmt: skip


@segment_app.command("validate")
def segment_validate(
    pql: str = typer.Option(None, "--pql"), file: Path = typer.Option(None, "--file", "-f"), as_json: bool = JsonFlag
) -> None:
    """Check a PQL expression against the union schemas, without saving it."""
    text = _expression(pql, file)
    with state.workspace().catalog.session() as session:
        _, checked = segment.validate_pql(session, state.sandbox, text)
    result = {"valid": True, "streamingEligible": checked.streaming, "streamingReason": checked.streaming_reason}
    emit(result, as_json, lambda d: out.print(
        f"valid; {'can' if d['streamingEligible'] else 'cannot'} stream: {d['streamingReason']}"))  # fmt: skip


@segment_app.command("list")
def segment_list(as_json: bool = JsonFlag) -> None:
    """The segments of the sandbox."""
    with state.workspace().catalog.session() as session:
        rows = segment.list_segments(session, state.sandbox)

    def human(found: list[dict[str, Any]]) -> None:
        table = new_table("name", "streaming", "expression")
        for d in found:
            table.add_row(d["name"], "yes" if d["evaluationInfo"]["streaming"]["enabled"] else "no",
                          d["expression"]["value"][:80])  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@segment_app.command("show")
def segment_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """One segment's definition."""
    with state.workspace().catalog.session() as session:
        found = segment.segment_document(segment.find_segment(session, state.sandbox, name))
    emit(found, as_json, lambda d: out.print(f"{d['name']}: {d['expression']['value']}", highlight=False))


@segment_app.command("delete")
def segment_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a segment (refused while another segment refers to it)."""
    with state.workspace().catalog.session() as session:
        gone = segment.delete_segment(session, state.sandbox, name)
    emit(gone, as_json, lambda d: out.print(f"segment {d['name']} deleted"))


@segment_app.command("estimate")
def segment_estimate(
    name: str = typer.Argument(None, help="A saved segment (or give --pql)."),
    pql: str = typer.Option(None, "--pql"),
    as_json: bool = JsonFlag,
) -> None:
    """How many profiles qualify now, and a sample, quickly and without saving anything."""
    workspace = state.workspace()
    if name is not None and pql is None:
        with workspace.catalog.session() as session:
            pql = segment.find_segment(session, state.sandbox, name).expression
    with progress_bar(not as_json) as progress:
        progress("estimating", None)
        found = segment.estimate(workspace, state.sandbox, _expression(pql, None))
    emit(found, as_json, lambda d: out.print(
        f"{d['estimate']:,} of {d['profiles']:,} profiles ({d['ratio']:.2%}) in {d['seconds']} s"))  # fmt: skip


@segment_app.command("run")
def segment_run(names: list[str] = typer.Argument(None, help="Segments to evaluate (default: all)."),
                as_json: bool = JsonFlag) -> None:  # fmt: skip
    """Run a batch segment job: evaluate the segments over every profile and update memberships.

    Exit code 1 when some segments could not be evaluated (`partial`: the job says which and why)."""
    with progress_bar(not as_json) as progress:
        progress("evaluating segments", None)
        job = segment.run_job(state.workspace(), state.sandbox, names or None)

    def human(d: dict[str, Any]) -> None:
        table = new_table("segment", "qualified", "realized", "existing", "exited")
        for name, c in sorted(d["counts"].items()):
            table.add_row(name, f"{c['qualified']:,}", f"{c['realized']:,}", f"{c['existing']:,}", f"{c['exited']:,}")
        out.print(table)
        out.print(f"job {d['id']}: {d['status']} in {d['seconds']} s")
        if d["error"]:
            out.print(d["error"], style="yellow", highlight=False, markup=False)

    emit(job, as_json, human)
    if job["status"] != "success":
        raise typer.Exit(1)


@segment_app.command("members")
def segment_members(
    name: str = typer.Argument(...),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000_000),
    offset: int = typer.Option(0, "--offset", min=0),
    export: bool = typer.Option(False, "--export", help="Every member as JSON lines, for scripts."),
    as_json: bool = JsonFlag,
) -> None:
    """The profiles in a segment now (realized or existing)."""
    found = segment.members(state.workspace(), state.sandbox, name, 10_000_000 if export else limit, offset)
    if export:
        emit_lines(iter(found["items"]))
        return

    def human(d: dict[str, Any]) -> None:
        table = new_table("profile (graph)", "status", "last qualification")
        for m in d["items"]:
            table.add_row(m["graphId"], m["status"], m["lastQualificationTime"])
        out.print(table)
        out.print(f"{d['total']:,} members")

    emit(found, as_json, human)


@segment_app.command("history")
def segment_history(
    namespace: str = typer.Option(..., "--namespace"), value: str = typer.Option(..., "--id"), as_json: bool = JsonFlag
) -> None:
    """A person's audience membership transitions, oldest first."""
    found = segment.profile_history(state.workspace(), state.sandbox, namespace, value)

    def human(d: dict[str, Any]) -> None:
        table = new_table("at", "segment", "from", "to")
        for t in d["transitions"]:
            table.add_row(t["at"], t["segment"], t["previous"] or "-", t["status"])
        out.print(table)

    emit(found, as_json, human)
