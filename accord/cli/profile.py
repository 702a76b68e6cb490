"""CLI: profiles and merge policies."""

from __future__ import annotations

import json
from typing import Any

import typer

from accord import profile
from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state

profile_app = typer.Typer(help="Unified profiles, looked up by any identity.", no_args_is_help=True)
mergepolicy_app = typer.Typer(help="Merge policies.", no_args_is_help=True)


@profile_app.command("get")
def profile_get(
    namespace: str = typer.Option(..., "--namespace"),
    value: str = typer.Option(..., "--id"),
    merge_policy: str = typer.Option(None, "--merge-policy", help="Default: the sandbox's default policy."),
    events: int = typer.Option(20, "--events", help="Recent events to show."),
    offset: int = typer.Option(0, "--events-offset"),
    as_json: bool = JsonFlag,
) -> None:
    """The unified profile of a person: merged attributes (with their sources), identities, events."""
    found = profile.get_profile(state.workspace(), state.sandbox, namespace, value, merge_policy, events, offset)

    def human(p: dict[str, Any]) -> None:
        out.print(f"profile of {namespace}:{value} (merge policy {p['mergePolicy']})", highlight=False)
        out.print("identities: " + ", ".join(f"{i['namespace']}:{i['id']}" for i in p["identities"]), highlight=False)
        out.print_json(json.dumps(p["attributes"]))
        _print_audiences_and_computed(p)
        shown = p["events"]["items"][:10]
        total = p["events"]["total"]
        out.print(f"{total:,} event{'' if total == 1 else 's'}" + (f"; the latest {len(shown)}:" if shown else ""))
        for event in shown:
            out.print(
                f"  {event.get('timestamp')} {event.get('eventType') or ''} ({event['dataset']})", highlight=False
            )

    emit(found, as_json, human)


def _print_audiences_and_computed(p: dict[str, Any]) -> None:
    """The person's audiences (status, since when) and computed attributes (value, when computed)."""
    memberships = p["segmentMembership"]
    out.print("audiences:" if memberships else "audiences: none")
    for name, m in memberships.items():
        since = f" since {m['lastQualificationTime']}" if m.get("lastQualificationTime") else ""
        out.print(f"  {name}: {m['status']}{since}", highlight=False)
    if p["computedAttributes"]:
        out.print("computed attributes:")
    for c in p["computedAttributes"]:
        when = f"computed {c['lastEvaluatedAt']}" if c["lastEvaluatedAt"] else "not computed yet"
        value = json.dumps(c["value"], default=str)
        out.print(f"  {c['name']} ({c['function']}, {c['path']}): {value} ({when})", highlight=False)


@mergepolicy_app.command("create")
def mergepolicy_create(
    name: str = typer.Argument(...),
    kind: str = typer.Option("timestamp", "--kind", help="timestamp or dataset_precedence."),
    datasets: list[str] = typer.Option([], "--dataset", help="For dataset_precedence: highest first (repeat)."),
    stitching: str = typer.Option("graph", "--stitching", help="graph or none."),
    default: bool = typer.Option(False, "--default", help="Make it the sandbox's default."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a merge policy (the first one becomes the default)."""
    document = {"name": name, "kind": kind, "datasets": datasets, "stitching": stitching, "default": default}
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        created = profile.create_policy(session, state.sandbox, document)
        shown = next(p for p in profile.list_policies(session, state.sandbox) if p["name"] == created.name)
    emit(
        shown,
        as_json,
        lambda p: out.print(f"merge policy [bold]{plain(p['name'])}[/] ({plain(p['kind'])}) created", markup=True),
    )


@mergepolicy_app.command("list")
def mergepolicy_list(as_json: bool = JsonFlag) -> None:
    """List merge policies."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = profile.list_policies(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "kind", "datasets", "stitching", "default")
        for p in items:
            table.add_row(p["name"], p["kind"], ", ".join(p["datasets"]), p["stitching"], "yes" if p["default"] else "")
        out.print(table)

    emit(rows, as_json, human)


@profile_app.command("rebuild")
def profile_rebuild(as_json: bool = JsonFlag) -> None:
    """Rebuild the identity graphs, then the profile store, from every profile-enabled dataset."""
    from accord.cli.output import progress_bar

    with progress_bar(not as_json) as progress:
        summary = profile.rebuild(state.workspace(), state.sandbox, progress)

    def human(s: dict[str, Any]) -> None:
        g = s["graph"]
        out.print(f"{g['graphs']:,} identity graphs from {g['identities']:,} identities in {g['seconds']} s")
        if s["profiles"]:
            p = s["profiles"]
            out.print(f"{p['profiles']:,} profiles merged from {p['fragments']:,} fragments, with {p['events']:,} "
                      f"events, in {p['seconds']} s")  # fmt: skip

    emit(summary, as_json, human)
