"""Probabilistic matching: a job that proposes links between records that share no identifier.

The user's matching rules are a pure, serialisable document (datasets, fields with their kind of
comparison, blocking rules, a threshold), compiled for Splink only when the job runs. Splink trains
a Fellegi-Sunter model on the records themselves (u by random sampling, m by expectation
maximisation) and scores the candidate pairs; pairs at or above the threshold, whose records are
not already in one graph, are written as proposed links of their own kind (`probabilistic`).
The next graph build takes them in, with their probability as the reason. A user reviews them
(`list_matches`) and removes a wrong one as any other link (`remove_link`)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.catalog import resolve_sandbox
from accord.engine import connect, field_at, raw_connection
from accord.errors import DocumentError, NotFoundError, did_you_mean, validation_problems
from accord.identity.graph import SEPARATOR, graph_folder, identity_rows
from accord.jobs import ensure_held
from accord.lake import find_dataset, open_dataset, sandbox_job
from accord.schema import resolve_schema_by_id
from accord.workspace import Workspace

PROBABILISTIC = "probabilistic"


class MatchField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="A field of the datasets' schema, e.g. person.name.lastName")
    comparison: Literal["name", "text", "exact", "date"] = Field(
        default="text", description="name: Jaro-Winkler for names; text: Jaro-Winkler; exact; date: date of birth"
    )
    dateFormat: str = Field(default="%Y-%m-%d", description="For `date` fields stored as text (strptime format)")


class MatchingRules(BaseModel):
    """What a matching job compares, and how sure it must be."""

    model_config = ConfigDict(extra="forbid")

    datasets: list[str] = Field(min_length=1, description="Profile-enabled datasets whose records are compared")
    fields: list[MatchField] = Field(min_length=2, max_length=30)
    blocking: list[list[str]] = Field(
        min_length=1, description="Candidate pairs agree on all fields of at least one of these lists"
    )
    threshold: float = Field(default=0.95, ge=0.5, le=1.0, description="Lowest match probability proposed")


def parse_rules(document: Any) -> MatchingRules:
    try:
        return MatchingRules.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise DocumentError("the matching rules", problems, code="IDENTITY-0420-400") from None


def matches_file(workspace: Workspace, sandbox_id: str) -> Path:
    return workspace.lake.root / sandbox_id / "matches" / "links.parquet"


def _comparison(field: MatchField, column: str) -> Any:
    import splink.comparison_library as cl

    if field.comparison == "name":
        return cl.NameComparison(column)
    if field.comparison == "exact":
        return cl.ExactMatch(column)
    if field.comparison == "date":
        return cl.DateOfBirthComparison(column, input_is_string=True, datetime_format=field.dateFormat)
    return cl.JaroWinklerAtThresholds(column)


def _check_paths(workspace: Workspace, sandbox: str, rules: MatchingRules) -> dict[str, tuple[str, set[str]]]:
    """Every dataset exists and feeds profiles, and every path is a field of each dataset's schema."""
    problems: list[dict[str, str]] = []
    found: dict[str, tuple[str, set[str]]] = {}
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        for index, name in enumerate(rules.datasets):
            try:
                dataset = find_dataset(session, sandbox_id, name)
            except NotFoundError as exc:
                problems.append({"path": f"datasets[{index}]", "message": exc.message})
                continue
            if not dataset.profile_enabled:
                problems.append({"path": f"datasets[{index}]", "message": f"dataset {name!r} is not profile-enabled"})
            leaves = set(resolve_schema_by_id(session, dataset.schema_id).leaves())
            found[name] = (dataset.id, leaves)
    paths = [(f"fields[{i}].path", f.path) for i, f in enumerate(rules.fields)]
    paths += [(f"blocking[{i}][{j}]", p) for i, group in enumerate(rules.blocking) for j, p in enumerate(group)]
    known = {f.path for f in rules.fields}
    for where, path in paths:
        if where.startswith("blocking") and path not in known:
            problems.append({"path": where, "message": f"{path!r} is not one of the compared fields"})
        for name, (_, leaves) in found.items():
            if where.startswith("fields") and path not in leaves:
                problems.append({"path": where, "message": f"dataset {name!r} has no field {path!r}"
                                 f"{did_you_mean(path, sorted(leaves))}"})  # fmt: skip
    if problems:
        raise DocumentError("the matching rules", problems, code="IDENTITY-0420-400")
    return found


def propose_matches(workspace: Workspace, sandbox: str, document: Any) -> dict[str, Any]:
    """Run a matching job; its proposed links replace the previous job's, and count from the next graph build.

    Holds the sandbox's lock (see `accord.lake.sandbox_job`): it reads the graph that a build replaces,
    and two matching jobs never write the proposals at once."""
    rules = parse_rules(document)
    with sandbox_job(workspace, sandbox, "identity matching"):
        return _propose_matches(workspace, sandbox, rules)


def _propose_matches(workspace: Workspace, sandbox: str, rules: MatchingRules) -> dict[str, Any]:
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    datasets = _check_paths(workspace, sandbox, rules)
    columns = {field.path: f"f{index}" for index, field in enumerate(rules.fields)}
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    con = connect(workspace.settings)
    try:
        parts = []
        for name in rules.datasets:
            table, _ = open_dataset(workspace, con, sandbox, name, provenance=True)
            values = {}
            for path, column in columns.items():
                values[column] = field_at(table, path).cast("string")
            parts.append(table.select(unique_id=table._acc_record, **values))
        records = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        ids = identity_rows(workspace, con, sandbox)
        if ids is None:
            raise NotFoundError("no identities to link: records need at least one identity", code="IDENTITY-0421-404")
        wanted = [dataset_id for dataset_id, _ in datasets.values()]
        ids = ids.filter(ids.dataset.isin(wanted))
        anchors = ids.group_by("record").aggregate(node=ids.namespace.concat(SEPARATOR, ids.id).min(),
                                                   dataset=ids.dataset.first(), batch=ids.batch.first())  # fmt: skip
        anchor_table = con.to_pyarrow(anchors)
        people = con.to_pyarrow(records.filter(records.unique_id.isin(anchors.record)))
        nodes_file = graph_folder(workspace, sandbox_id) / "nodes.parquet"
        graph_of = pq.read_table(nodes_file, columns=["node", "graph"]) if nodes_file.exists() else None
    finally:
        con.disconnect()

    engine = raw_connection(workspace.settings, threads=workspace.settings.duckdb_threads or 2)
    try:
        engine.register("people_arrow", people)
        engine.execute("CREATE TABLE people AS SELECT * FROM people_arrow")
        db = DuckDBAPI(engine)
        blocking: list[Any] = [block_on(*[columns[p] for p in group]) for group in rules.blocking]
        settings = SettingsCreator(link_type="dedupe_only", blocking_rules_to_generate_predictions=list(blocking),
                                   comparisons=[_comparison(f, columns[f.path]) for f in rules.fields])  # fmt: skip
        linker = Linker(db.register("people"), settings, log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(list(blocking), recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        for rule in blocking:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        scored = linker.inference.predict(threshold_match_probability=rules.threshold).as_pyarrow_table()
    finally:
        engine.close()
    pairs = _proposals(workspace, scored, anchor_table, graph_of)
    target = matches_file(workspace, sandbox_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = workspace.lake.staging(f"matches-{sandbox_id}") / target.name  # this job's own, removed at its end
    pq.write_table(pairs, staging)
    ensure_held(workspace.catalog)
    staging.replace(target)
    return {"records": people.num_rows, "pairsScored": scored.num_rows, "proposed": pairs.num_rows,
            "threshold": rules.threshold, "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


def _proposals(workspace: Workspace, scored: pa.Table, anchors: pa.Table, graph_of: pa.Table | None) -> pa.Table:
    """The scored pairs as links between the records' first identities, leaving out those already in one graph."""
    con = connect(workspace.settings)
    try:
        pairs = ibis.memtable(scored.select(["unique_id_l", "unique_id_r", "match_probability"]))
        left, right = ibis.memtable(anchors), ibis.memtable(anchors)
        joined = pairs.join(left, pairs.unique_id_l == left.record).join(right, pairs.unique_id_r == right.record)
        links = joined.select(
            a=ibis.least(left.node, right.node), b=ibis.greatest(left.node, right.node),
            a_record=pairs.unique_id_l, b_record=pairs.unique_id_r, dataset=left.dataset, batch=left.batch,
            probability=pairs.match_probability,
        )  # fmt: skip
        links = links.filter(links.a != links.b)
        if graph_of is not None:
            graphs_l, graphs_r = ibis.memtable(graph_of), ibis.memtable(graph_of)
            same = links.join(graphs_l, links.a == graphs_l.node).join(
                graphs_r, [links.b == graphs_r.node, graphs_l.graph == graphs_r.graph]
            ).select("a_record", "b_record")  # fmt: skip
            links = links.anti_join(same, ["a_record", "b_record"])
        links = links.mutate(proposed=ibis.literal(datetime.now(UTC)).cast("timestamp('UTC')"))
        return con.to_pyarrow(links.order_by(ibis.desc("probability")))
    finally:
        con.disconnect()


def match_links(con: Any, workspace: Workspace, sandbox_id: str) -> Any:
    """The proposed links in the shape of record links (for the graph build), or None."""
    path = matches_file(workspace, sandbox_id)
    if not path.exists():
        return None
    found = con.read_parquet(str(path))
    rule = ibis.literal(f"{PROBABILISTIC} match, p=").concat(found.probability.round(4).cast("string"))
    return found.select(a=found.a, b=found.b, first_seen=found.proposed, last_seen=found.proposed,
                        records=ibis.literal(2, "int64"), record=found.a_record.concat(" ~ ", found.b_record),
                        dataset=found.dataset, batch=found.batch, rule=rule)  # fmt: skip


def list_matches(workspace: Workspace, sandbox: str, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The links the last matching job proposed, most probable first."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    path = matches_file(workspace, sandbox_id)
    if not path.exists():
        return {"total": 0, "items": []}
    table = pq.read_table(path)
    items = []
    for row in table.slice(offset, limit).to_pylist():
        a_ns, a_id = row["a"].split(SEPARATOR, 1)
        b_ns, b_id = row["b"].split(SEPARATOR, 1)
        items.append({"from": {"namespace": a_ns, "id": a_id}, "to": {"namespace": b_ns, "id": b_id},
                      "probability": round(row["probability"], 6), "records": [row["a_record"], row["b_record"]],
                      "proposed": row["proposed"].isoformat()})  # fmt: skip
    return {"total": table.num_rows, "items": items}
