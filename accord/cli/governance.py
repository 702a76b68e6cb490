"""CLI: data usage labels, marketing actions and policies, and the policy evaluation of an activation flow."""

from __future__ import annotations

import typer

from accord import destinations, governance
from accord.cli.documents import print_lines
from accord.cli.output import emit, out, plain
from accord.cli.state import JsonFlag, state

label_app = typer.Typer(help="Data usage labels on datasets and fields.", no_args_is_help=True)
policy_app = typer.Typer(help="Data usage policies.", no_args_is_help=True)
action_app = typer.Typer(help="Marketing actions.", no_args_is_help=True)

Field = typer.Option("", "--field", "-f", help="A field's dotted path (default: the whole dataset).")


def _show_labels(d: dict) -> None:
    out.print(f"{d['dataset']}: {', '.join(d['labels']) or 'no label'}", highlight=False)
    for field, labels in d["fields"].items():
        out.print(f"  {field}: {', '.join(labels)}", highlight=False)


@label_app.command("add")
def label_add(
    dataset: str = typer.Argument(...), labels: list[str] = typer.Argument(...), field: str = Field,
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Label a dataset (every field of it), or one field with --field."""
    with state.workspace().catalog.session() as session:
        found = governance.add_labels(session, state.sandbox, dataset, labels, field)
    emit(found, as_json, _show_labels)


@label_app.command("remove")
def label_remove(
    dataset: str = typer.Argument(...), labels: list[str] = typer.Argument(...), field: str = Field,
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Remove labels from a dataset, or from one field with --field."""
    with state.workspace().catalog.session() as session:
        found = governance.remove_labels(session, state.sandbox, dataset, labels, field)
    emit(found, as_json, _show_labels)


@label_app.command("show")
def label_show(dataset: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A dataset's labels, its own and its fields'."""
    with state.workspace().catalog.session() as session:
        found = governance.dataset_labels(session, state.sandbox, dataset)
    emit(found, as_json, _show_labels)


@label_app.command("list")
def label_list(as_json: bool = JsonFlag) -> None:
    """The labels there are: the core ones and the sandbox's own."""
    with state.workspace().catalog.session() as session:
        rows = governance.list_labels(session, state.sandbox)
    emit(rows, as_json, print_lines(lambda r: f"{r['name']}  {r['category']}  {r['description']}"))


@label_app.command("create")
def label_create(name: str = typer.Argument(...), description: str = typer.Option("", "--description"),
                 as_json: bool = JsonFlag) -> None:  # fmt: skip
    """A custom label, beside the core ones."""
    with state.workspace().catalog.session() as session:
        made = governance.create_label(session, state.sandbox, name, description)
    emit(made, as_json, lambda d: out.print(f"label {d['name']} created"))


@action_app.command("list")
def action_list(as_json: bool = JsonFlag) -> None:
    """The marketing actions there are: the core ones and the sandbox's own."""
    with state.workspace().catalog.session() as session:
        rows = governance.list_actions(session, state.sandbox)
    emit(rows, as_json, print_lines(lambda r: f"{r['name']}  {r['title']}  {r['description']}"))


@action_app.command("create")
def action_create(
    name: str = typer.Argument(...), title: str = typer.Option("", "--title"),
    description: str = typer.Option("", "--description"), as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """A custom marketing action, beside the core ones."""
    with state.workspace().catalog.session() as session:
        made = governance.create_action(session, state.sandbox, name, title, description)
    emit(made, as_json, lambda d: out.print(f"marketing action {d['name']} created"))


def _policy_line(p: dict) -> str:
    return (f"{p['name']}  {'enabled' if p['enabled'] else 'disabled'}  {p['marketingAction']} forbidden for "
            f"{p['expression']}{'  (core)' if p['core'] else ''}")  # fmt: skip


@policy_app.command("list")
def policy_list(as_json: bool = JsonFlag) -> None:
    """The core policies (shipped disabled) and the sandbox's own."""
    with state.workspace().catalog.session() as session:
        found = governance.list_policies(session, state.sandbox)
    emit(found, as_json, print_lines(_policy_line))


@policy_app.command("create")
def policy_create(
    name: str = typer.Argument(...),
    action: str = typer.Option(..., "--action", help="The marketing action it forbids (`accord action list`)."),
    expression: str = typer.Option(..., "--expression", "-e", help='For data whose labels match: "C2 OR (C5 AND I1)".'),
    description: str = typer.Option("", "--description"),
    enable: bool = typer.Option(False, "--enable", help="Enable it now (default: created disabled)."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a policy: a marketing action forbidden for data whose labels match an expression."""
    with state.workspace().catalog.session() as session:
        made = governance.create_policy(session, state.sandbox, name, action, expression, description=description,
                                        enabled=enable)  # fmt: skip
    emit(made, as_json, lambda d: out.print(_policy_line(d), highlight=False))


@policy_app.command("enable")
def policy_enable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Enable a policy: saves and runs of activation flows that break it are refused from now on."""
    with state.workspace().catalog.session() as session:
        made = governance.set_policy_enabled(session, state.sandbox, name, True)
    emit(made, as_json, lambda d: out.print(_policy_line(d), highlight=False))


@policy_app.command("disable")
def policy_disable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Disable a policy."""
    with state.workspace().catalog.session() as session:
        made = governance.set_policy_enabled(session, state.sandbox, name, False)
    emit(made, as_json, lambda d: out.print(_policy_line(d), highlight=False))


@policy_app.command("evaluate")
def policy_evaluate(
    activation: str = typer.Option(..., "--activation", help="The activation flow."), as_json: bool = JsonFlag
) -> None:
    """Explain what the enabled policies say of an activation flow, without running it (exit code 1: violated)."""
    with state.workspace().catalog.session() as session:
        found = destinations.evaluate_flow(session, state.sandbox, activation)

    def human(d: dict) -> None:
        actions = ", ".join(d["marketingActions"]) or "no marketing action"
        if d["allowed"]:
            out.print(f"activation {d['activation']} ({actions}) breaks no enabled policy", highlight=False)
            return
        for v in d["violations"]:
            out.print(f"[bold red]violates[/] {plain(v['policy'])}: {plain(v['marketingAction'])} forbidden for "
                      f"{plain(v['expression'])}; labels {plain(', '.join(v['labels']) or '(what the data lacks)')}",
                      highlight=False, markup=True)  # fmt: skip
            for path in v["lineage"]:
                out.print("  " + " -> ".join(path), highlight=False)

    emit(found, as_json, human)
    if not found["allowed"]:
        raise typer.Exit(1)
