"""CLI: identity namespaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import identity
from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state

identity_app = typer.Typer(
    help="Identity namespaces, identity graphs, linking rules and probabilistic matching.", no_args_is_help=True
)


@identity_app.command("namespaces")
def namespaces_list(as_json: bool = JsonFlag) -> None:
    """List the standard and custom identity namespaces."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = [n.to_document() for n in identity.list_namespaces(session, state.sandbox)]

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("symbol", "name", "type", "graph", "kind")
        for n in items:
            table.add_row(n["symbol"], n["name"], n["type"], "yes" if n["buildsGraph"] else "no",
                          "standard" if n["standard"] else "custom")  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@identity_app.command("create")
def namespace_create(
    symbol: str = typer.Argument(..., help="Symbol, e.g. LoyaltyID; it can never change or be reused."),
    identity_type: str = typer.Option(
        ..., "--type", help="cookie, cross_device, device, email, phone, non_people, partner_id."
    ),
    name: str = typer.Option("", "--name"),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonFlag,
) -> None:
    """Create a custom identity namespace."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        created = identity.create_namespace(session, state.sandbox, symbol, name, identity_type, description)
    emit(
        created.to_document(),
        as_json,
        lambda d: out.print(f"namespace [bold]{plain(d['symbol'])}[/] ({plain(d['type'])}) created", markup=True),
    )


def _pair(text: str) -> tuple[str, str]:
    from accord.errors import InvalidInputError

    namespace, _, value = text.partition(":")
    if not namespace or not value:
        raise InvalidInputError(f"{text!r}: write NAMESPACE:ID, e.g. Email:ann@example.com", code="IDENTITY-0402-400")
    return namespace, value


@identity_app.command("build")
def graph_build(as_json: bool = JsonFlag) -> None:
    """Rebuild the identity graphs from every profile-enabled dataset."""
    from accord.cli.output import progress_bar

    with progress_bar(not as_json) as progress:
        progress("building identity graphs", None)
        summary = identity.build_graph(state.workspace(), state.sandbox).to_document()
    emit(summary, as_json, lambda s: out.print(
        f"{s['identities']:,} identities, {s['links']:,} links, {s['graphs']:,} graphs (largest {s['largest']})"
        f" in {s['seconds']} s"))  # fmt: skip


@identity_app.command("graph")
def graph_show(
    namespace: str = typer.Option(..., "--namespace"), value: str = typer.Option(..., "--id"), as_json: bool = JsonFlag
) -> None:
    """The identity graph of an identity: its identities and links, with why each link exists."""
    graph = identity.graph_of(state.workspace(), state.sandbox, namespace, value)

    def human(g: dict[str, Any]) -> None:
        out.print(f"graph {g['graphId']}: {len(g['identities'])} identities", highlight=False)
        for link in g["links"]:
            out.print(f"  {link['from']['namespace']}:{link['from']['id']} -- {link['to']['namespace']}:"
                      f"{link['to']['id']}  ({link['rule']}, {link['records']} records, first {link['firstSeen']})",
                      highlight=False, markup=False)  # fmt: skip

    emit(graph, as_json, human)


@identity_app.command("explain")
def graph_explain(
    first: str = typer.Argument(..., help="NAMESPACE:ID"),
    second: str = typer.Argument(..., help="NAMESPACE:ID"),
    as_json: bool = JsonFlag,
) -> None:
    """Why two identities are in one graph: the chain of links between them."""
    result = identity.explain(state.workspace(), state.sandbox, _pair(first), _pair(second))

    def human(r: dict[str, Any]) -> None:
        if not r["sameGraph"]:
            out.print("not in the same graph")
            return
        for link in r["chain"]:
            left = f"{link['from']['namespace']}:{link['from']['id']}"
            right = f"{link['to']['namespace']}:{link['to']['id']}"
            out.print(f"{left} -> {right}  seen together in record {link['record']} of dataset {link['dataset']}",
                      highlight=False, markup=False)  # fmt: skip

    emit(result, as_json, human)


@identity_app.command("match")
def identity_match(
    rules_file: Path = typer.Option(..., "--file", "-f", help="Matching rules, YAML or JSON (see docs/identity.md)."),
    threshold: float = typer.Option(None, "--threshold", help="Override the rules' match probability threshold."),
    as_json: bool = JsonFlag,
) -> None:
    """Propose links between records that share no identifier (Splink); the next graph build takes them in."""
    from accord.cli.documents import read_document
    from accord.cli.output import progress_bar

    document = read_document(rules_file)
    if threshold is not None and isinstance(document, dict):
        document = {**document, "threshold": threshold}
    with progress_bar(not as_json) as progress:
        progress("training the model and scoring candidate pairs", None)
        run = identity.propose_matches(state.workspace(), state.sandbox, document)
    emit(run, as_json, lambda r: out.print(
        f"{r['proposed']:,} links proposed from {r['pairsScored']:,} pairs at p >= {r['threshold']} over "
        f"{r['records']:,} records in {r['seconds']} s; review with `accord identity matches`"))  # fmt: skip


@identity_app.command("matches")
def identity_matches(
    limit: int = typer.Option(50, "--limit", min=1, max=100_000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonFlag,
) -> None:
    """The links the last matching job proposed, most probable first (remove one with `accord identity unlink`)."""
    found = identity.list_matches(state.workspace(), state.sandbox, limit, offset)

    def human(d: dict[str, Any]) -> None:
        table = new_table("from", "to", "probability", "records")
        for m in d["items"]:
            table.add_row(f"{m['from']['namespace']}:{m['from']['id']}", f"{m['to']['namespace']}:{m['to']['id']}",
                          f"{m['probability']:.4f}", " ~ ".join(m["records"]))  # fmt: skip
        out.print(table)
        out.print(f"{d['total']:,} proposed links")

    emit(found, as_json, human)


@identity_app.command("rules")
def linking_rules(
    unique: str = typer.Option(None, "--unique", help="Comma-separated namespaces unique in a graph, e.g. CRMID."),
    priority: str = typer.Option(None, "--priority", help="Comma-separated namespaces, highest priority first."),
    as_json: bool = JsonFlag,
) -> None:
    """Show or change the linking rules (they apply from the next `accord identity build`)."""
    workspace = state.workspace()

    def split(text: str | None) -> list[str] | None:
        return None if text is None else [s.strip() for s in text.split(",") if s.strip()]

    with workspace.catalog.session() as session:
        if unique is None and priority is None:
            rules = identity.get_rules(session, state.sandbox)
        else:
            rules = identity.set_rules(session, state.sandbox, split(unique), split(priority))
    emit(rules.to_document(), as_json, lambda d: out.print(
        f"unique: {', '.join(d['uniqueNamespaces']) or '-'}\npriority: {' > '.join(d['priority'])}"))  # fmt: skip


@identity_app.command("unlink")
def unlink(
    first: str = typer.Argument(..., help="NAMESPACE:ID"),
    second: str = typer.Argument(..., help="NAMESPACE:ID"),
    reason: str = typer.Option("", "--reason"),
    as_json: bool = JsonFlag,
) -> None:
    """Remove the link between two identities (graphs follow at the next `accord identity build`, profiles at
    the next `accord profile rebuild`, which builds both)."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        done = identity.remove_link(session, state.sandbox, _pair(first), _pair(second), reason, state.actor())
    emit(
        done,
        as_json,
        lambda _d: out.print(
            f"link {first} -- {second} removed; `accord profile rebuild` applies it to graphs and profiles"
        ),
    )


@identity_app.command("remove")
def remove(
    target: str = typer.Argument(..., help="NAMESPACE:ID"),
    reason: str = typer.Option("", "--reason"),
    as_json: bool = JsonFlag,
) -> None:
    """Take an identity out of its graph (graphs follow at the next `accord identity build`, profiles at the
    next `accord profile rebuild`, which builds both)."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        done = identity.remove_identity(session, state.sandbox, _pair(target), reason, state.actor())
    emit(
        done,
        as_json,
        lambda _d: out.print(
            f"{target} removed from its graph; `accord profile rebuild` applies it to graphs and profiles"
        ),
    )


@identity_app.command("removals")
def removals(as_json: bool = JsonFlag) -> None:
    """The links and identities users removed, with who, when (UTC offset included) and why."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = identity.list_removals(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        for r in items:  # one line each, times with their UTC offset
            what = f"{r['identity']['namespace']}:{r['identity']['id']}"
            if r["other"]:
                what += f" -- {r['other']['namespace']}:{r['other']['id']}"
            why = f": {r['reason']}" if r["reason"] else ""
            out.print(f"{r['createdAt']}  {r['kind']} {what}  by {r['removedBy']}{why}", highlight=False, markup=False)
        if not items:
            out.print("no removals")

    emit(rows, as_json, human)
