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
                          d["expression"]["value"])  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@segment_app.command("show")
def segment_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """One segment's definition."""
    with state.workspace().catalog.session() as session:
        found = segment.segment_document(segment.find_segment(session, state.sandbox, name))
    emit(found, as_json, _print_segment)


def _print_segment(d: dict[str, Any]) -> None:
    out.print(f"{d['name']}: {d['expression']['value']}", highlight=False)
    if d.get("description"):
        out.print(f"  {d['description']}", highlight=False)


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
def segment_run(
    names: list[str] = typer.Argument(None, help="Segments to evaluate (default: all)."),
    background: bool = typer.Option(False, "--background", help="Answer the job's id at once; it runs on its own."),
    job: str = typer.Option(None, "--job", hidden=True, help="Run this queued job (the background process)."),
    as_json: bool = JsonFlag,
) -> None:
    """Run a batch segment job: evaluate the segments over every profile and update memberships.

    Exit code 1 when the job did not succeed (`partial`: some segments could not be evaluated, and the job
    says which and why; `cancelled`). With --background, the job runs in a process of its own: follow it
    with `accord segment jobs ID`, stop it with `accord segment cancel ID`; refused (exit code 4) while a job
    of the sandbox is queued or running, naming it."""
    workspace = state.workspace()
    if job is not None:
        _run_queued(job)
        return
    if background:
        queued = segment.start_background_job(workspace, state.sandbox, names or None, segment.spawn_job)
        emit(queued, as_json, lambda d: out.print(
            f"job {d['id']} queued; follow it with `accord segment jobs {d['id']}`, stop it with "
            f"`accord segment cancel {d['id']}`"))  # fmt: skip
        return
    with progress_bar(not as_json) as progress:
        progress("evaluating segments", None)
        done = segment.run_job(workspace, state.sandbox, names or None)

    def human(d: dict[str, Any]) -> None:
        table = new_table("segment", "qualified", "realized", "existing", "exited")
        for name, c in sorted(d["counts"].items()):
            table.add_row(name, f"{c['qualified']:,}", f"{c['realized']:,}", f"{c['existing']:,}", f"{c['exited']:,}")
        out.print(table)
        out.print(f"job {d['id']}: {d['status']} in {d['seconds']} s")
        if d["error"]:
            out.print(d["error"], style="yellow", highlight=False, markup=False)

    emit(done, as_json, human)
    if done["status"] != "success":
        raise typer.Exit(1)


def _run_queued(job_id: str) -> None:
    """The detached process of a background job: its record tells how it went."""
    done = segment.run_detached(state.workspace(), state.sandbox, job_id)
    if done["status"] != "success":
        raise typer.Exit(1)


@segment_app.command("jobs")
def segment_jobs(
    job_id: str = typer.Argument(None, help="One job's id (default: the latest jobs)."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = JsonFlag,
) -> None:
    """The sandbox's latest segment jobs, or one job: status, progress, counts."""
    workspace = state.workspace()
    if job_id is not None:
        emit(segment.job_document(workspace, state.sandbox, job_id), as_json, _print_job)
        return

    def human(found: list[dict[str, Any]]) -> None:
        # five columns: at 80 characters the ids stay whole beside them (`--json` has every field)
        table = new_table("job", "status", "trigger", "segments", "started (UTC)", ids=("job",))
        for d in found:
            took = "" if d["seconds"] is None else f" ({d['seconds']} s)"
            table.add_row(d["id"], f"{d['status']} {_progress(d)}".strip(), d["trigger"], str(d["segments"]),
                          d["started"][:19].replace("T", " ") + took)  # fmt: skip
        out.print(table)

    emit(segment.list_jobs(workspace, state.sandbox, limit), as_json, human)


def _progress(d: dict[str, Any]) -> str:
    step = d["progress"]
    if d["status"] not in ("queued", "running"):
        return ""
    items = f" ({step['done']}/{step['total']})" if step["total"] > 1 else ""
    return f"{step['fraction']:.0%} {step['step']}{items}"


def _print_job(d: dict[str, Any]) -> None:
    out.print(f"job {d['id']}: {d['status']} ({d['trigger']}), started {d['started']}", highlight=False)
    if d["status"] in ("queued", "running"):
        out.print(f"  {_progress(d)}{'; cancellation requested' if d['cancelRequested'] else ''}", highlight=False)
    for name, c in sorted(d["counts"].items()):
        out.print(f"  {name}: {c['qualified']:,} qualified ({c['realized']:,} realized, {c['exited']:,} exited)")
    if d["error"]:
        out.print(f"  {d['error']}", style="yellow", highlight=False, markup=False)


@segment_app.command("cancel")
def segment_cancel(job_id: str = typer.Argument(..., help="The job's id."), as_json: bool = JsonFlag) -> None:
    """Stop a segment job: a queued one at once, a running one at its next step, memberships left as they were."""
    emit(segment.cancel_job(state.workspace(), state.sandbox, job_id), as_json, _print_job)


schedule_app = typer.Typer(help="When the sandbox's audiences are evaluated on their own.", no_args_is_help=True)
segment_app.add_typer(schedule_app, name="schedule")


def _print_schedule(d: dict[str, Any]) -> None:
    if not d["enabled"]:
        out.print(f"disabled (was every {d['everyHours']} h aligned on {d['at']} UTC)")
        return
    rebuild = ", profiles rebuilt first" if d["rebuildProfiles"] else ""
    out.print(f"every {d['everyHours']} h aligned on {d['at']} UTC{rebuild}; next job at {d['nextRunAt']}",
              highlight=False)  # fmt: skip


@schedule_app.command("set")
def schedule_set(
    every_hours: int = typer.Option(24, "--every-hours", help="Hours between two jobs (1 to 168)."),
    at: str = typer.Option("00:00", "--at", help="HH:MM UTC the slots are aligned on (HH:MM plus or minus N hours)."),
    rebuild_profiles: bool = typer.Option(False, "--rebuild-profiles", help="Rebuild the profiles right before."),
    as_json: bool = JsonFlag,
) -> None:
    """Evaluate every segment of the sandbox every N hours on a grid aligned on HH:MM UTC (`accord serve` runs them).

    The slots are HH:MM plus or minus whole multiples of N hours, and the first job is the first slot after
    now: every 5 hours at 22:00, set at 07:06, runs at 12:00 (22:00 - 2 x 5 h), 17:00, 22:00, 03:00..."""
    document = {"everyHours": every_hours, "at": at, "rebuildProfiles": rebuild_profiles}
    with state.workspace().catalog.session() as session:
        emit(segment.set_schedule(session, state.sandbox, document), as_json, _print_schedule)


@schedule_app.command("show")
def schedule_show(as_json: bool = JsonFlag) -> None:
    """The sandbox's segment schedule and its next job."""
    with state.workspace().catalog.session() as session:
        emit(segment.get_schedule(session, state.sandbox), as_json, _print_schedule)


@schedule_app.command("disable")
def schedule_disable(as_json: bool = JsonFlag) -> None:
    """Stop the sandbox's scheduled segment jobs (jobs under way finish)."""
    with state.workspace().catalog.session() as session:
        emit(segment.disable_schedule(session, state.sandbox), as_json, _print_schedule)


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
        table = new_table("profile (graph)", "status", "last qualification", ids=("profile (graph)",))
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
