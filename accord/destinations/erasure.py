"""What activations keep of people, found and erased (privacy jobs), and destinations told to delete them.

An activation flow keeps, per audience, a snapshot of what its destination last accepted (each profile's id
and row hash; with a sync mode, each record's key too); a streaming flow keeps the requests its destination
never accepted (dead letters); a local destination's files may lie under Accord's home. A privacy delete:
1. tells each destination that can delete records (`DestinationSpec.takes_deletions`) to delete the
   person's records, through a deletion export: for a flow with a sync mode, the records its snapshot says the
   destination holds for them, as rows whose `operation` is `delete`, in a file put where the flow's files
   go. A flow without a sync mode has sent audience files with no record key to delete by: it is named in the
   report as not told. Streaming destinations are named as not told too: a deletion export over HTTP is not
   built (their requests are made by templates that expect a profile's attributes);
2. takes the person's rows out of every snapshot (the next run neither sends them nor an exit for them);
3. deletes the dead letters that carry them (with the other profiles they carried: the report says how many);
4. takes the rows naming them out of the files kept under the home (`scrub_file`).
It holds each flow's lock first (as a run does, before the sandbox's), so that no run writes a snapshot
meanwhile."""

from __future__ import annotations

import csv
import functools
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import delete, select

from accord.access import AllowedRoots
from accord.catalog import resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord, DeadLetterRecord, DestinationAccountRecord
from accord.destinations.accounts import open_destination
from accord.destinations.flows import definition_of
from accord.destinations.runs import flow_lock, snapshots_folder
from accord.destinations.scrubbing import rows_naming, scrub_file
from accord.destinations.spec import ExportFile, FileDestination
from accord.home import write_whole
from accord.jobs import hold

if TYPE_CHECKING:
    from accord.workspace import Workspace

CAMPAIGN = "accord-campaign"


@dataclass
class ActivationsErased:
    snapshot_rows: int = 0
    dead_letters: int = 0
    other_profiles_in_dead_letters: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    """Files under the home that named them: path and rows taken out."""
    told: list[dict[str, Any]] = field(default_factory=list)
    """Deletion exports sent: flow, account, destination, file, records."""
    not_told: list[dict[str, Any]] = field(default_factory=list)
    """Flows whose destination holds (or may hold) them and was not told, with why."""

    def to_document(self) -> dict[str, Any]:
        return {"snapshotRows": self.snapshot_rows, "deadLetters": self.dead_letters,
                "otherProfilesInDeadLetters": self.other_profiles_in_dead_letters, "files": self.files,
                "deletionExports": self.told, "notTold": self.not_told}  # fmt: skip


@dataclass(frozen=True)
class _Flow:
    id: str
    name: str
    account: DestinationAccountRecord
    definition: Any


def _flows(workspace: Workspace, sandbox_id: str) -> list[_Flow]:
    with workspace.catalog.session() as session:
        records = list(session.scalars(select(ActivationFlowRecord).where(
            ActivationFlowRecord.sandbox_id == sandbox_id).order_by(ActivationFlowRecord.name)))  # fmt: skip
        found = []
        for record in records:
            account = session.get(DestinationAccountRecord, record.account_id)
            assert account is not None
            session.expunge(account)
            found.append(_Flow(record.id, record.name, account, definition_of(record)))
        return found


@contextmanager
def flows_held(workspace: Workspace, sandbox: str, purpose: str) -> Iterator[None]:
    """Hold the lock of every activation flow of the sandbox (each waits `job_wait_seconds` for a run to end)."""
    settings = workspace.settings
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    with ExitStack() as stack:
        for flow in _flows(workspace, sandbox_id):
            stack.enter_context(hold(workspace.catalog, flow_lock(flow.id), f"{purpose} (flow {flow.name})",
                                     wait_seconds=settings.job_wait_seconds,
                                     stale_seconds=settings.stale_run_seconds))  # fmt: skip
        yield


def snapshots_of(workspace: Workspace, sandbox_id: str, graphs: set[int]) -> list[dict[str, Any]]:
    """The snapshot rows of these profiles, per flow and audience (what each destination was last sent)."""
    found = []
    doomed = pa.array(sorted(graphs), pa.int64())
    for flow in _flows(workspace, sandbox_id):
        for path in sorted(snapshots_folder(workspace, sandbox_id, flow.id).glob("*.parquet")):
            table = pq.ParquetFile(path).read()
            if "graph" not in table.column_names:
                continue
            mine = table.filter(pc.is_in(table["graph"], value_set=doomed))
            if mine.num_rows:
                rows = mine.drop_columns([c for c in mine.column_names if c.startswith("_")]).to_pylist()
                found.append({"flow": flow.name, "audience": path.stem, "destination": flow.account.name,
                              "rows": rows})  # fmt: skip
    return found


def forget_snapshots(workspace: Workspace, sandbox: str, tell: set[int], drop: set[int], label: str,
                     staging: Path) -> ActivationsErased:  # fmt: skip
    """Tell destinations that can delete records to delete the records of the `tell` profiles (deletion exports
    named after `label`), then take the `tell` and `drop` profiles out of every flow's snapshots (`drop`: ids
    that no longer exist, such as a graph an erasure split). The caller holds the flows' locks (`flows_held`)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    erased = ActivationsErased()
    told = pa.array(sorted(tell), pa.int64())
    doomed = pa.array(sorted(tell | drop), pa.int64())
    for flow in _flows(workspace, sandbox_id):
        held = False
        for path in sorted(snapshots_folder(workspace, sandbox_id, flow.id).glob("*.parquet")):
            table = pq.ParquetFile(path).read()
            if "graph" not in table.column_names:
                continue
            gone = pc.is_in(table["graph"], value_set=doomed)
            if not pc.any(gone).as_py():
                continue
            mine = table.filter(pc.is_in(table["graph"], value_set=told))
            if mine.num_rows:
                held = True
                if flow.definition.sync_mode:
                    _tell(workspace, flow, path.stem, mine, label, staging, erased)
            kept = table.filter(pc.invert(gone))
            write_whole(path, functools.partial(pq.write_table, kept))
            erased.snapshot_rows += table.num_rows - kept.num_rows
        if held and not flow.definition.sync_mode:
            erased.not_told.append({"flow": flow.name, "destination": flow.account.destination,
                                    "why": "the flow has no sync mode: the files it sent have no record key to "
                                           "delete by"})  # fmt: skip
    return erased


def _tell(workspace: Workspace, flow: _Flow, audience: str, held: pa.Table, label: str, staging: Path,
          erased: ActivationsErased) -> None:  # fmt: skip
    """A deletion export of the records `held` (snapshot rows) to the flow's destination, or why not."""
    from accord.destinations.registry import destination_spec
    from accord.sources import SecretBox

    spec = destination_spec(flow.account.destination)
    named = {"flow": flow.name, "destination": flow.account.destination, "audience": audience}
    if not spec.takes_deletions:
        erased.not_told.append({**named, "why": f"{spec.name} takes no deletes (no `mirror` sync mode)"})
        return
    if flow.account.destination == CAMPAIGN and _this_homes_instance(workspace, flow.account):
        erased.not_told.append({**named, "why": "the campaign instance of this home: its recipients are erased "
                                "directly (store `campaign`)"})  # fmt: skip
        return
    settings = workspace.settings
    destination = open_destination(flow.account, SecretBox(settings.home), AllowedRoots.from_settings(settings))
    if not isinstance(destination, FileDestination):
        erased.not_told.append({**named, "why": "a deletion export to a streaming destination is not built: its "
                                "requests are rendered from profiles' attributes, which are gone"})  # fmt: skip
        return
    keys = list(flow.definition.dedup_key)
    columns = [*keys, "operation", "segmentMembership.status"]
    name = f"privacy-deletion_{flow.name}_{audience}_{label}.csv"
    path = staging / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in held.select(keys).to_pylist():
            writer.writerow([*(row[k] for k in keys), "delete", "exited"])
    at = destination.write(ExportFile(path, name, held.num_rows, path.stat().st_size))
    erased.told.append({**named, "account": flow.account.name, "file": name, "at": at, "records": held.num_rows})


def _this_homes_instance(workspace: Workspace, account: DestinationAccountRecord) -> bool:
    settings = workspace.settings
    root = Path(str(account.config.get("root", ""))).expanduser().resolve()
    return account.config.get("instance") == settings.campaign_instance and root == settings.campaign_landing_folder


def dead_letters_of(workspace: Workspace, sandbox_id: str, graphs: set[int], values: set[str]) -> list[dict[str, Any]]:
    """The dead letters that carry these profiles (by id) or name one of these values in their body."""
    from accord.destinations.streaming.deadletters import dead_letter_document

    with workspace.catalog.session() as session:
        records = session.scalars(select(DeadLetterRecord).where(DeadLetterRecord.sandbox_id == sandbox_id))
        return [dead_letter_document(r) for r in records if _names(r, graphs, values)]


def forget_dead_letters(workspace: Workspace, sandbox_id: str, graphs: set[int], values: set[str],
                        erased: ActivationsErased) -> None:  # fmt: skip
    """Delete the dead letters that carry these profiles or name these values (secure delete: see the caller)."""
    from accord.secure_delete import secure_session_deletes

    with workspace.catalog.session() as session:
        secure_session_deletes(session)
        records = list(session.scalars(select(DeadLetterRecord).where(DeadLetterRecord.sandbox_id == sandbox_id)))
        doomed = [r for r in records if _names(r, graphs, values)]
        for record in doomed:
            carried = {int(p) for p in (record.request or {}).get("profileIds") or () if str(p).lstrip("-").isdigit()}
            erased.other_profiles_in_dead_letters += len(carried - graphs)
        if doomed:
            session.execute(delete(DeadLetterRecord).where(DeadLetterRecord.id.in_([r.id for r in doomed])))
        erased.dead_letters += len(doomed)


def _names(record: DeadLetterRecord, graphs: set[int], values: set[str]) -> bool:
    request = record.request or {}
    carried = {str(p) for p in request.get("profileIds") or ()}
    if carried & {str(g) for g in graphs}:
        return True
    body = str(request.get("body", "")).lower()
    return any(value in body for value in values)


def export_folders(workspace: Workspace, sandbox_id: str) -> list[Path]:
    """The folders of the sandbox's local destination accounts that lie under Accord's home (their files are kept
    there, by Accord's own choice of folder)."""
    home = workspace.settings.home.expanduser().resolve()
    with workspace.catalog.session() as session:
        accounts = session.scalars(select(DestinationAccountRecord).where(
            DestinationAccountRecord.sandbox_id == sandbox_id))  # fmt: skip
        roots = {Path(str(a.config.get("root", ""))).expanduser().resolve() for a in accounts
                 if a.config.get("root")}  # fmt: skip
    return sorted(root for root in roots if root.is_relative_to(home) and root.is_dir())


def files_naming(folders: list[Path], values: set[str]) -> list[dict[str, Any]]:
    """Files in these folders (any depth) that hold a row naming one of the values: path and those rows."""
    found = []
    for path in _data_files(folders):
        rows = rows_naming(path, values)
        if rows:
            found.append({"path": str(path), "rows": rows})
    return found


def scrub_folders(folders: list[Path], values: set[str], erased: ActivationsErased) -> None:
    """Take the rows naming one of the values out of every data file in these folders."""
    for path in _data_files(folders):
        removed = scrub_file(path, values)
        if removed:
            erased.files.append({"path": str(path), "rows": removed})


def _data_files(folders: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and path not in seen:
                seen.add(path)
    return sorted(seen)


def scratch_folder(workspace: Workspace) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder for deletion exports, named for this process (swept if it dies: `accord.jobs`)."""
    from accord.jobs import scratch_name

    root = workspace.settings.spill_root
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=scratch_name("privacy"), dir=root)
