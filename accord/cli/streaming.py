"""CLI: streaming inlets, the processor's figures, and `accord worker` (the processor alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord.cli.documents import read_document
from accord.cli.output import emit, err, new_table, out, plain
from accord.cli.state import JsonFlag, state

streaming_app = typer.Typer(help="Streaming inlets (HTTP collection URLs) and the real-time processor.",
                            no_args_is_help=True)  # fmt: skip


@streaming_app.command("inlets")
def inlets_list(as_json: bool = JsonFlag) -> None:
    """List the sandbox's streaming inlets and their collection URLs."""
    from accord import streaming

    with state.workspace().catalog.session() as session:
        rows = streaming.list_inlets(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "dataset", "public", "collection URL")
        for inlet in items:
            table.add_row(inlet["name"], inlet["dataset"] or "", "yes" if inlet["public"] else "no",
                          inlet["collectionUrl"])  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@streaming_app.command("create")
def inlet_create(
    name: str = typer.Argument(..., help="The inlet's name (letters, digits, '_', '.', '-')."),
    dataset: str = typer.Option(None, "--dataset", help="The dataset its messages go to."),
    public: bool = typer.Option(False, "--public", help="Take messages without a token (only into its dataset)."),
    segment: bool = typer.Option(False, "--segment", help="Take the Segment spec's calls at /v1 (a write key)."),
    profile_dataset: str = typer.Option(None, "--profile-dataset", help="Segment: where identify/group/alias go."),
    event_dataset: str = typer.Option(None, "--event-dataset", help="Segment: where track/page/screen go."),
    mapping: Path = typer.Option(
        None, "--mapping", help="Segment: a JSON file of the mapping (default: built in).", exists=True, dir_okay=False
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Make a streaming inlet; its id is the one in its collection URLs (POST /collection/ID). With --segment, a
    Segment-spec inlet: its write key (shown once) lets Segment's client libraries send to /v1."""
    from accord import streaming

    if (
        segment != (dataset is None)
        or (segment and not (profile_dataset and event_dataset))
        or (not segment and (profile_dataset or event_dataset or mapping or False))
    ):
        raise typer.BadParameter("give --dataset, or --segment with --profile-dataset and --event-dataset")
    with state.workspace().catalog.session() as session:
        if segment:
            made = streaming.create_segment_inlet(session, state.sandbox, name, profile_dataset, event_dataset,
                                                  read_document(mapping) if mapping else None)  # fmt: skip
        else:
            made = streaming.create_inlet(session, state.sandbox, name, dataset, public=public)
    if segment:
        emit(made, as_json, lambda d: out.print(f"Segment inlet [bold]{plain(d['name'])}[/]: send calls to /v1/... "
                                                f"with the write key {plain(d['writeKey'])} (shown this once)",
                                                highlight=False, markup=True))  # fmt: skip
        return
    emit(made, as_json, lambda d: out.print(f"inlet [bold]{plain(d['name'])}[/] takes messages at "
                                            f"{plain(d['collectionUrl'])} "
                                            f"(batches at {plain(d['batchCollectionUrl'])})",
                                            highlight=False, markup=True))  # fmt: skip


@streaming_app.command("show")
def inlet_show(name: str = typer.Argument(..., help="The inlet's name or id."), as_json: bool = JsonFlag) -> None:
    """Show one inlet."""
    from accord import streaming

    with state.workspace().catalog.session() as session:
        found = streaming.get_inlet(session, state.sandbox, name)
    emit(found, as_json, lambda d: out.print_json(data=d))


@streaming_app.command("delete")
def inlet_delete(name: str = typer.Argument(..., help="The inlet's name or id."), as_json: bool = JsonFlag) -> None:
    """Delete an inlet: its URLs answer 404 within 2 seconds (what it took already is processed)."""
    from accord import streaming

    with state.workspace().catalog.session() as session:
        streaming.delete_inlet(session, state.sandbox, name)
    emit({"deleted": name}, as_json, lambda d: out.print(f"inlet {d['deleted']} deleted"))


@streaming_app.command("process")
def process(as_json: bool = JsonFlag) -> None:
    """Process what waits in the event log now, then stop (`accord worker` keeps at it)."""
    from accord import streaming

    service = streaming.StreamingService(state.workspace())
    try:
        figures = {"taken": service.process_now(), **service.stats()}
    finally:
        service.stop()
    emit(figures, as_json, lambda d: out.print(f"{d['taken']:,} messages taken from the log; "
                                               f"{d['processed']:,} into the lake, {d['deduplicated']:,} "
                                               f"already there, {d['invalid']:,} invalid"))  # fmt: skip


@streaming_app.command("stats")
def stats(as_json: bool = JsonFlag) -> None:
    """How far the processor is behind the event log, and what the running processes took in and processed."""
    from accord import streaming

    service = streaming.StreamingService(state.workspace())
    try:
        figures = service.stats()
    finally:
        service.stop()
    figures.pop("processing", None)
    figures["processes"] -= 1  # this command's own process takes nothing in

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"{d['logged']:,} messages logged, processed up to {d['processedPosition']:,}, "
            f"{d['lagMessages']:,} waiting (the oldest for {d['lagSeconds']:.1f} s)",
            highlight=False,
        )
        out.print(f"by {d['processes']} running process(es): {d['accepted']:,} accepted, {d['refused']:,} "
                  f"refused, {d['processed']:,} processed, {d['deduplicated']:,} deduplicated, {d['invalid']:,} "
                  "left out as invalid", highlight=False)  # fmt: skip
        ack, end = d["ackMilliseconds"], d["endToEndSeconds"]
        out.print(f"answers p50 {ack['p50']} ms, p99 {ack['p99']} ms; to processed p50 {end['p50']} s, "
                  f"p99 {end['p99']} s", highlight=False)  # fmt: skip

    emit(figures, as_json, human)


def worker() -> None:
    """Run the streaming processor alone (no API), until stopped; one runs at a time per home, others wait."""
    import signal
    import threading

    from accord import streaming

    service = streaming.StreamingService(state.workspace())
    stop = threading.Event()
    for caught in (signal.SIGINT, signal.SIGTERM):
        signal.signal(caught, lambda *_: stop.set())
    err.print(
        "Accord streaming worker: processing the event log, or standing by while another process does (Ctrl-C to stop)",
        highlight=False,
    )
    service.start_processor()
    try:
        stop.wait()
    finally:
        service.stop()
