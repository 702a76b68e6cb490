"""CLI: `accord campaign`, the campaign engine of this home (or, for `connect`, of another machine)."""

from __future__ import annotations

from typing import Any

import typer

from accord.cli.campaign_deliveries import delivery_app, list_subscribe
from accord.cli.campaign_workflows import campaign_bounces, campaign_import, campaign_loads, workflow_app
from accord.cli.output import emit, new_table, out, plain
from accord.cli.serving import serve_api
from accord.cli.state import JsonFlag, state

campaign_app = typer.Typer(help="The campaign engine: recipients, lists, deliveries, workflows, logs.",
                           no_args_is_help=True)  # fmt: skip
list_app = typer.Typer(help="Lists of recipients.", no_args_is_help=True)
address_app = typer.Typer(help="Test addresses (proofs) and seed addresses (a copy of every delivery).",
                          no_args_is_help=True)  # fmt: skip
suppression_app = typer.Typer(help="The suppression list every delivery honours.", no_args_is_help=True)
campaign_app.add_typer(list_app, name="list")
campaign_app.add_typer(address_app, name="address")
campaign_app.add_typer(suppression_app, name="suppression")
campaign_app.add_typer(delivery_app, name="delivery")
campaign_app.add_typer(workflow_app, name="workflow")
campaign_app.command("import")(campaign_import)
campaign_app.command("loads")(campaign_loads)
campaign_app.command("bounces")(campaign_bounces)
list_app.command("subscribe")(list_subscribe)


def engine() -> Any:
    """The campaign instance of the command's home, opened once; closed when the command ends."""
    return state.campaign()


@campaign_app.command("init")
def campaign_init(as_json: bool = JsonFlag) -> None:
    """Create (or upgrade) this home's campaign instance: its database, its folders; the home too if new."""
    from accord.workspace import initialise

    made = initialise(state.settings)
    from accord import campaign

    shown = {**campaign.initialise_engine(state.settings), "token": made.token}

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"campaign instance [bold]{plain(d['instance'])}[/] ready: database {plain(d['database'])}", markup=True
        )
        out.print(f"  audiences land in {d['landing']}; logs are written to {d['logs']}", highlight=False)
        if d["token"]:
            out.print(f"  admin API token (shown once): {d['token']}", highlight=False)

    emit(shown, as_json, human)


@campaign_app.command("status")
def campaign_status(as_json: bool = JsonFlag) -> None:
    """This instance: its name, folders and limits."""
    from accord.campaign.connect import instance_document

    document = instance_document(engine())

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"instance [bold]{plain(d['instance'])}[/]: landing {plain(d['landing'])}, logs {plain(d['logs'])}",
            highlight=False,
            markup=True,
        )
        out.print("limits: " + ", ".join(f"{k} {v:,}" for k, v in d["limits"].items()), highlight=False)

    emit(document, as_json, human)


@campaign_app.command("recipients")
def campaign_recipients(
    limit: int = typer.Option(20, "--limit", min=1, max=1000), offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """List recipients."""
    from accord import campaign

    page = campaign.list_recipients(engine(), limit=limit, offset=offset)

    def human(d: dict[str, Any]) -> None:
        table = new_table("external id", "e-mail", "first name", "last name", "opted out")
        for r in d["recipients"]:
            flags = [c for c, k in (("email", "blackListEmail"), ("sms", "blackListMobile"), ("all", "blackList"))
                     if r[k]]  # fmt: skip
            table.add_row(r["externalId"], r["email"] or "-", r["firstName"] or "-", r["lastName"] or "-",
                          ", ".join(flags) or "-")  # fmt: skip
        out.print(table)
        out.print(f"{len(d['recipients'])} of {d['total']:,}")

    emit(page, as_json, human)


@campaign_app.command("opt-out")
def campaign_opt_out(
    external_id: str = typer.Argument(...),
    channel: str = typer.Option("email", "--channel", help="email, sms or all."),
    opt_in: bool = typer.Option(False, "--undo", help="Opt back in."),
    as_json: bool = JsonFlag,
) -> None:
    """Opt a recipient out of a channel (or back in with --undo)."""
    from accord import campaign

    shown = campaign.set_opt_out(engine(), external_id, channel, not opt_in)
    emit(shown, as_json, lambda r: out.print(f"{r['externalId']}: opted {'in to' if opt_in else 'out of'} {channel}"))


@list_app.command("create")
def list_create(
    name: str = typer.Argument(...), label: str = typer.Option("", "--label"),
    double_opt_in: bool = typer.Option(False, "--double-opt-in", help="Members confirm by e-mail first."),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Create a list."""
    from accord import campaign

    emit(campaign.create_list(engine(), name, label=label, double_opt_in=double_opt_in), as_json,
         lambda d: out.print(f"list [bold]{plain(d['name'])}[/] created ({plain(d['origin'])})",
                             markup=True))  # fmt: skip


@list_app.command("list")
def list_list(as_json: bool = JsonFlag) -> None:
    """The lists, with how many members each has."""
    from accord import campaign

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "origin", "audience", "members", "updated")
        for item in items:
            table.add_row(item["name"], item["origin"], item["audienceId"] or "-", f"{item['members']:,}",
                          item["updatedAt"])  # fmt: skip
        out.print(table)

    emit(campaign.list_lists(engine()), as_json, human)


@list_app.command("members")
def list_members(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """The external ids of a list's members."""
    from accord import campaign

    emit(campaign.list_member_ids(engine(), name), as_json, lambda ids: out.print("\n".join(ids) or "(no members)"))


@address_app.command("add")
def address_add(
    email: str = typer.Argument(...), kind: str = typer.Option("test", "--kind", help="test or seed."),
    label: str = typer.Option("", "--label"), as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Add a test address (receives proofs) or a seed address (receives a copy of every delivery)."""
    from accord import campaign

    emit(campaign.add_seed_address(engine(), email, kind=kind, label=label), as_json,
         lambda d: out.print(f"{d['kind']} address {d['email']} added"))  # fmt: skip


@address_app.command("list")
def address_list(kind: str = typer.Option(None, "--kind", help="test or seed."), as_json: bool = JsonFlag) -> None:
    """The test and seed addresses."""
    from accord import campaign

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("kind", "e-mail", "label")
        for item in items:
            table.add_row(item["kind"], item["email"], item["label"] or "-")
        out.print(table)

    emit(campaign.seed_addresses(engine(), kind), as_json, human)


@suppression_app.command("add")
def suppression_add(
    email: str = typer.Argument(...),
    reason: str = typer.Option("manual", "--reason", help="unsubscribed, hard-bounce, complained or manual."),
    detail: str = typer.Option("", "--detail"), as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Put an address on the suppression list."""
    from accord import campaign

    emit(campaign.suppress(engine(), email, reason, detail), as_json,
         lambda d: out.print(f"{d['email']} suppressed ({d['reason']})"))  # fmt: skip


@suppression_app.command("remove")
def suppression_remove(email: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Take an address off the suppression list."""
    from accord import campaign

    campaign.unsuppress(engine(), email)
    emit({"email": email, "suppressed": False}, as_json, lambda d: out.print(f"{email} is no longer suppressed"))


@suppression_app.command("list")
def suppression_list(as_json: bool = JsonFlag) -> None:
    """The suppressed addresses, with why."""
    from accord import campaign

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("e-mail", "reason", "since", "detail")
        for item in items:
            table.add_row(item["email"], item["reason"], item["createdAt"], item["detail"] or "-")
        out.print(table)

    emit(campaign.suppressions(engine()), as_json, human)


@campaign_app.command("export-logs")
def campaign_export_logs(as_json: bool = JsonFlag) -> None:
    """Write the delivery and tracking logs since the last export, for the CDP's source to ingest."""
    from accord.campaign.logs import export_logs

    def human(d: dict[str, Any]) -> None:
        out.print(f"{d['deliveryLogs']:,} delivery log rows, {d['trackingLogs']:,} tracking log rows, "
                  f"{d['consents']:,} consent changes, up to {d['until']}", highlight=False)  # fmt: skip
        for file in d["files"]:
            out.print(f"  {file['at']} ({file['rows']:,} rows)", highlight=False)

    emit(export_logs(engine()), as_json, human)


@campaign_app.command("connect")
def campaign_connect(
    url: str = typer.Option(None, "--url", help="An instance on another machine (default: this home's)."),
    token: str = typer.Option(None, "--token", envvar="ACCORD_CAMPAIGN_TOKEN", help="An API token of that instance."),
    namespace: str = typer.Option("CRMID", "--namespace", help="The namespace of the recipients' external ids."),
    as_json: bool = JsonFlag,
) -> None:
    """Set up both directions between this sandbox and a campaign instance: the destination that sends it
    audiences, and the dataflows that bring its logs and consents back. Says what it created."""
    from accord.campaign.connect import Instance, connect, remote_instance

    workspace = state.workspace()  # the token is checked (and the refusal logged) before any instance is asked
    if url:
        instance = remote_instance(url, token or "")
    else:
        eng = engine()
        instance = Instance(name=eng.name, landing=str(eng.landing), logs=str(eng.logs))
    made = connect(workspace, state.sandbox, instance, namespace=namespace)

    def human(d: dict[str, Any]) -> None:
        out.print(f"campaign instance [bold]{plain(d['instance'])}[/] and sandbox {plain(d['sandbox'])} connected "
                  f"(external ids in {plain(d['namespace'])})", markup=True)  # fmt: skip
        for what in d["created"]:
            out.print(f"  created {what}", highlight=False)
        for what in d["kept"]:
            out.print(f"  kept {what} (it existed)", highlight=False)
        out.print(
            f"Next: `accord activation create ... --account {d['destinationAccount']}` to send audiences; "
            "the dataflows run hourly under `accord serve` (or `accord dataflow run NAME`).",
            highlight=False,
        )

    emit(made, as_json, human)


@campaign_app.command("serve")
def campaign_serve(
    host: str = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=0, max=65535, help="Port (default 8000; 0: any free port)."),
) -> None:
    """Serve the campaign engine alone (its API under /campaign, tracking, its schedules), for a machine of its
    own; `accord serve` runs it with the rest of Accord."""
    serve_api(host, port, campaign_only=True)
