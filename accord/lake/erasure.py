"""Erasing rows from committed batches by a condition (privacy deletes), and finding them (privacy access).

The condition comes from the caller (the identity context knows which columns hold identities); the lake
knows files. A batch whose files hold some of the rows is rebuilt in staging: each of its files that held
one is written again without them, under its own name, and the others are linked in unchanged; then the
folder is swapped in by renames (`replace_folder`), so that readers see the old batch or the new one. Its
record count follows.

A row's record id is `batch/file/row` (`lake.reading.open_dataset`), and a file written again without
some rows numbers the rows after them anew. What stores record ids (the identity graphs, the profile
store) follows with `Renumbering`, which says where each kept row of a rewritten file went.

The rows a job finds and the files it rewrites are those of committed batches when it starts: a batch
committed meanwhile (ingestion takes no sandbox lock) is not looked at."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox
from accord.engine import copy_to_parquet, to_arrow, values_table
from accord.home import write_whole
from accord.jobs import ensure_held
from accord.lake.reading import open_dataset
from accord.lake.store import replace_folder

if TYPE_CHECKING:
    from accord.schema import ResolvedSchema
    from accord.workspace import Workspace

Condition = Callable[[Any, "ResolvedSchema"], Any]
"""Given a dataset's rows (the schema's columns, with provenance) and its schema: a boolean expression that
is true for the rows to find or erase, or None when no row of the dataset can match."""
DOOMED = "acc_doomed_rows"
PAIRED = " ~ "
"""Between the two records of a proposed (probabilistic) link, as the graph keeps them (`identity.matching`)."""


@dataclass(frozen=True)
class DatasetRows:
    """A dataset of a sandbox as an erasure reads it."""

    id: str
    name: str
    profile_enabled: bool


def sandbox_datasets(workspace: Workspace, sandbox: str) -> tuple[str, list[DatasetRows]]:
    """The sandbox's id and every dataset of it, by name."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        records = session.scalars(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id)
                                  .order_by(DatasetRecord.name))  # fmt: skip
        return sandbox_id, [DatasetRows(r.id, r.name, r.profile_enabled) for r in records]


def find_rows(workspace: Workspace, con: Any, sandbox: str, dataset: str, condition: Condition,
              limit: int | None = None) -> pa.Table:  # fmt: skip
    """The committed rows of a dataset that `condition` selects, with their provenance (`_acc_batch`,
    `_acc_record`); an empty table when none does."""
    table, schema = open_dataset(workspace, con, sandbox, dataset, provenance=True)
    chosen = condition(table, schema)
    if chosen is None:
        return pa.table({})
    found = table.filter(chosen.fill_null(False))
    return to_arrow(con, found.limit(limit) if limit is not None else found)


@dataclass
class Renumbering:
    """Where the kept rows of rewritten files went: per file (`batch/file`), the rows removed from it, sorted.

    A kept row `r` of such a file is now row `r - (rows removed before r)`; a removed row is gone."""

    removed: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, file_key: str, rows: np.ndarray) -> None:
        before = self.removed.get(file_key)
        both = rows if before is None else np.concatenate([before, rows])
        self.removed[file_key] = np.unique(both.astype(np.int64))

    def __bool__(self) -> bool:
        return bool(self.removed)

    def record_ids(self) -> list[str]:
        """The record ids of every removed row."""
        return [f"{key}/{row}" for key, rows in sorted(self.removed.items()) for row in rows.tolist()]

    def apply(self, records: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Record ids (`batch/file/row`) as they are after the rewrites; a removed record becomes null. A
        proposed link's pair of records (`a ~ b`) has each of its records renumbered (a removed one kept as
        it was: the link goes with the identities it joins)."""
        array = records.combine_chunks() if isinstance(records, pa.ChunkedArray) else records
        if not self.removed or len(array) == 0:
            return array
        paired = pc.fill_null(pc.match_substring(array, PAIRED), False)
        if pc.any(paired).as_py():
            pairs = pc.split_pattern(pc.filter(array, paired), PAIRED, max_splits=1)
            ends = [pc.list_element(pairs, 0), pc.list_element(pairs, 1)]
            first, second = (pc.coalesce(self._plain(end), end) for end in ends)
            array = pc.replace_with_mask(array, paired, pc.binary_join_element_wise(first, second, PAIRED))
        return self._plain(array)

    def _plain(self, array: pa.Array) -> pa.Array:
        plain = pc.fill_null(pc.match_substring_regex(array, r"^[^/]+/[^/]+/[0-9]+$"), False)
        if not pc.any(plain).as_py():
            return array
        subset = pc.filter(array, plain)
        parts = pc.split_pattern(subset, "/", max_splits=2)
        keys = pc.binary_join_element_wise(pc.list_element(parts, 0), pc.list_element(parts, 1), "/")
        rows = pc.cast(pc.list_element(parts, 2), pa.int64())
        for key, removed in self.removed.items():
            mine = pc.fill_null(pc.equal(keys, key), False)
            if not pc.any(mine).as_py():
                continue
            old = pc.filter(rows, mine).to_numpy()
            now = pa.array(old - np.searchsorted(removed, old, side="left")).cast(pa.string())
            renamed = pc.binary_join_element_wise(pa.scalar(key), now, "/")
            kept = pa.array(~np.isin(old, removed))
            subset = pc.replace_with_mask(subset, mine, pc.if_else(kept, renamed, pa.scalar(None, pa.string())))
        return pc.replace_with_mask(array, plain, subset)


@dataclass
class Erased:
    """What an erasure took out of one dataset."""

    dataset: str
    rows: int = 0
    batches: list[str] = field(default_factory=list)
    identities: pa.Table | None = None
    """`(namespace, id)` of every identity the erased rows carried, when asked (`identities_of`)."""


def erase_rows(workspace: Workspace, con: Any, sandbox: str, dataset: DatasetRows, condition: Condition,
               renumbering: Renumbering, identities_of: Callable[[Any, ResolvedSchema, str], Any] | None = None,
               on_batch: Callable[[str], None] | None = None) -> Erased:  # fmt: skip
    """Take the rows `condition` selects out of every committed batch of a dataset; `renumbering` learns where
    the kept rows of each rewritten file went. With `identities_of` (rows, schema, dataset id -> an expression
    of `(namespace, id)` rows), the identities the erased rows carried are returned.

    The caller holds the sandbox's lock (`lake.sandbox_job`): readers of the batches must not see one swapped
    under them, nor a job that took the lock over see this one go on (`ensure_held` before each swap)."""
    erased = Erased(dataset.name)
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        batches = list(
            session.scalars(
                select(BatchRecord.id)
                .where(BatchRecord.dataset_id == dataset.id, BatchRecord.status == "success")
                .order_by(BatchRecord.created_at)
            )
        )
    found_identities: list[pa.Table] = []
    for batch_id in batches:
        table, schema = open_dataset(workspace, con, sandbox, dataset.name, provenance=True, batches={batch_id})
        chosen = condition(table, schema)
        if chosen is None:
            return erased  # no row of this dataset can match (its schema holds no such identity)
        doomed = table.filter(chosen.fill_null(False))
        found = to_arrow(con, doomed.select("_acc_record"))
        if found.num_rows == 0:
            continue
        if identities_of is not None:
            carried = identities_of(doomed, schema, dataset.id)
            if carried is not None:
                found_identities.append(to_arrow(con, carried))
        by_file: dict[str, list[int]] = {}
        for record in found["_acc_record"].to_pylist():
            _batch, file, row = record.rsplit("/", 2)
            by_file.setdefault(file, []).append(int(row))
        _rewrite_batch(workspace, con, sandbox_id, dataset.id, batch_id, by_file)
        for file, rows in by_file.items():
            renumbering.add(f"{batch_id}/{file}", np.array(rows, dtype=np.int64))
        with workspace.catalog.session() as session:
            record = session.get(BatchRecord, batch_id)
            assert record is not None
            record.output_record_count = max(0, record.output_record_count - found.num_rows)
        erased.rows += found.num_rows
        erased.batches.append(batch_id)
        if on_batch is not None:
            on_batch(batch_id)
    if found_identities:
        erased.identities = pa.concat_tables(found_identities, promote_options="permissive")
    return erased


def _rewrite_batch(workspace: Workspace, con: Any, sandbox_id: str, dataset_id: str, batch_id: str,
                   doomed: dict[str, list[int]]) -> None:  # fmt: skip
    """The batch again without the doomed rows of its files (`file stem -> row numbers`), swapped in whole."""
    lake = workspace.lake
    folder = lake.batch_dir(sandbox_id, dataset_id, batch_id)
    staging = lake.staging(f"privacy-{batch_id}")
    for path in sorted(folder.iterdir()):
        target = staging / path.name
        rows = doomed.get(path.stem) if path.suffix == ".parquet" else None
        if rows is None:
            _link_or_copy(path, target)
            continue
        gone = values_table(con, DOOMED, {"row": ("BIGINT", rows)})
        kept = con.read_parquet(str(path), file_row_number=True)
        kept = kept.anti_join(gone, kept.file_row_number == gone.row).drop("file_row_number")
        copy_to_parquet(con, kept, str(target))
    ensure_held(workspace.catalog)
    replace_folder(staging, folder)


def _link_or_copy(source: Path, target: Path) -> None:
    """A file unchanged by a rewrite, in the new folder: linked (no copy) where the file system allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def diagnostics_files(workspace: Workspace, sandbox_id: str) -> list[Path]:
    """Every batch's row diagnostics (the failed rows, as they came) of a sandbox."""
    folder = workspace.lake.sandbox_dir(sandbox_id) / "diagnostics"
    return sorted(folder.glob("*/errors.parquet")) if folder.is_dir() else []


TOKEN_BREAKS = r"[\s,;|\"'{}\[\]:=<>()\\]+"
"""What separates the values in a failed row's text (JSON, delimited text): an identifier holds none of these."""


def naming_mask(table: pa.Table, values: set[str]) -> np.ndarray:
    """True for the rows of a diagnostics table whose texts (the row as it came, the errors' messages) hold one of
    the values (lower-cased) as a whole word."""
    wanted = pa.array(sorted(values), pa.string())
    mask = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns:
        mask |= _text_hits(column.combine_chunks(), wanted)
    return mask


def _text_hits(array: pa.Array, wanted: pa.Array) -> np.ndarray:
    if pa.types.is_struct(array.type):
        hits = np.zeros(len(array), dtype=bool)
        for child in array.flatten():
            hits |= _text_hits(child, wanted)
        return hits
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        inner = _text_hits(pc.list_flatten(array), wanted)
        hits = np.zeros(len(array), dtype=bool)
        hits[np.unique(pc.list_parent_indices(array).to_numpy()[inner])] = True
        return hits
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return np.zeros(len(array), dtype=bool)
    words = pc.split_pattern_regex(pc.utf8_lower(array.cast(pa.string())), TOKEN_BREAKS)
    found = pc.fill_null(pc.is_in(pc.list_flatten(words), value_set=wanted), False).to_numpy(zero_copy_only=False)
    hits = np.zeros(len(array), dtype=bool)
    hits[np.unique(pc.list_parent_indices(words).to_numpy()[found.astype(bool)])] = True
    return hits


def diagnostics_naming(workspace: Workspace, sandbox_id: str, values: set[str]) -> list[dict[str, Any]]:
    """The failed rows, kept in batches' diagnostics, that name one of the values: with their batch."""
    found = []
    for path in diagnostics_files(workspace, sandbox_id):
        table = pq.ParquetFile(path).read()
        for row in table.filter(pa.array(naming_mask(table, values))).to_pylist():
            found.append({"batch": path.parent.name, **row})
    return found


def erase_diagnostics(workspace: Workspace, sandbox_id: str, values: set[str]) -> int:
    """Take the failed rows naming one of the values out of every batch's diagnostics; how many went.

    Each file is written beside itself and renamed over it: a reader sees the old file or the new one."""
    removed = 0
    for path in diagnostics_files(workspace, sandbox_id):
        table = pq.ParquetFile(path).read()
        mask = naming_mask(table, values)
        if not mask.any():
            continue
        kept = table.filter(pa.array(~mask))
        write_whole(path, functools.partial(pq.write_table, kept, compression="zstd"))
        removed += int(mask.sum())
    return removed
