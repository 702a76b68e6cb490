"""CLI: `accord campaign delivery ...` (create from a file, check, proof, send, the send log) and `accord
campaign list subscribe`. The service functions do the checking; these commands say what came of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord.cli.documents import read_document
from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

delivery_app = typer.Typer(help="E-mail deliveries: create, check, proof, send, and their send log.",
                           no_args_is_help=True)  # fmt: skip

FIELDS = {"name": "name", "label": "label", "campaignId": "campaign_id", "campaignName": "campaign_name",
          "sender": "sender", "subject": "subject", "html": "html", "text": "text", "target": "target"}  # fmt: skip
"""The keys of a delivery file, and the arguments of `create_delivery` they become."""


def _delivery_arguments(path: Path) -> dict[str, Any]:
    document = read_document(path)
    if not isinstance(document, dict):
        raise InvalidInputError(f"{path}: a delivery is a mapping of {', '.join(FIELDS)}", code="CAMPAIGN-0400-400")
    unknown = sorted(set(document) - set(FIELDS))
    missing = [k for k in ("name", "sender", "subject", "target") if k not in document]
    problems = [{"path": k, "message": f"unknown key; keys: {', '.join(FIELDS)}"} for k in unknown]
    problems += [{"path": k, "message": "missing"} for k in missing]
    if problems:
        raise InvalidInputError(f"{path}: the delivery has {len(problems)} problem(s)", code="CAMPAIGN-0400-400",
                                problems=problems)  # fmt: skip
    return {FIELDS[k]: v for k, v in document.items()}


@delivery_app.command("create")
def delivery_create(
    file: Path = typer.Option(..., "--file", "-f", help="The delivery, YAML or JSON: name, sender, subject, html, "
                              "text, target, and optionally label, campaignId, campaignName."),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Create a draft delivery from a file; its templates' syntax and its target's shape are checked now."""
    from accord import campaign

    arguments = _delivery_arguments(file)
    made = campaign.create_delivery(state.campaign(), arguments.pop("name"), **arguments)
    emit(made, as_json, lambda d: out.print(f"delivery [bold]{plain(d['name'])}[/] created ({plain(d['state'])}); "
                                            f"next: `accord campaign delivery check {plain(d['name'])}`",
                                            markup=True))  # fmt: skip


@delivery_app.command("list")
def delivery_list(as_json: bool = JsonFlag) -> None:
    """The deliveries, with their state and what their last send did."""
    from accord import campaign

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "state", "target", "subject", "sent", "updated")
        for d in items:
            target = ", ".join(f"{k} {v}" if isinstance(v, str) else k for k, v in d["target"].items())
            table.add_row(d["name"], d["state"], target, d["subject"], str(d["counts"].get("sent", "-")),
                          d["updatedAt"])  # fmt: skip
        out.print(table)

    emit(campaign.list_deliveries(state.campaign()), as_json, human)


@delivery_app.command("show")
def delivery_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A delivery: its templates, target, state and counts."""
    from accord import campaign

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"delivery [bold]{plain(d['name'])}[/] ({plain(d['state'])}): {plain(d['label'])}",
            highlight=False,
            markup=True,
        )
        out.print(f"  from {d['sender']}, subject {d['subject']!r}, target {d['target']}", highlight=False)
        if d["error"]:
            out.print(f"  error: {d['error']}", highlight=False, markup=False)
        if d["counts"]:
            out.print(f"  counts: {d['counts']}", highlight=False, markup=False)

    emit(campaign.get_delivery(state.campaign(), name), as_json, human)


@delivery_app.command("check")
def delivery_check(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Check the templates against the target's recipients: every problem, or what would be sent."""
    from accord import campaign

    def human(d: dict[str, Any]) -> None:
        out.print(f"{d['recipients']:,} recipients; fields used: {', '.join(d['fields']) or '-'}", highlight=False)
        left_out = ", ".join(f"{n:,} {reason}" for reason, n in d["excluded"].items() if n)
        out.print(f"left out: {left_out or 'none'}", highlight=False)
        for field, lack in d["missing"].items():
            out.print(f"  {lack['count']:,} lack {field} (not sent to), e.g. {', '.join(lack['examples'])}",
                      highlight=False, markup=False)  # fmt: skip

    emit(campaign.check_delivery(state.campaign(), name), as_json, human)


@delivery_app.command("proof")
def delivery_proof(
    name: str = typer.Argument(...),
    to: list[str] = typer.Option(None, "--to", help="Send to this address instead of the test addresses (repeat)."),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Send proofs (subject prefixed [PROOF]) to the test addresses, through the instance's SMTP server."""
    from accord.campaign.mailer import send_proof

    def human(d: dict[str, Any]) -> None:
        out.print(
            f"proof of [bold]{plain(d['delivery'])}[/]: {plain(d['sent'])} of {len(d['messages'])} sent",
            highlight=False,
            markup=True,
        )
        for m in d["messages"]:
            out.print(f"  {m['to']}: {m['status']}{' (' + m['reason'] + ')' if m['reason'] else ''}",
                      highlight=False, markup=False)  # fmt: skip

    emit(send_proof(state.campaign(), name, to or None), as_json, human)


@delivery_app.command("send")
def delivery_send(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Send the delivery to its target. Sending again mails only those not yet sent to."""
    from accord import campaign

    engine = state.campaign()
    found = campaign.get_delivery(engine, name)
    if as_json:
        counts = campaign.send_delivery(engine, found["id"])
    else:
        with out.status(f"sending delivery {found['name']} through {engine.settings.campaign_smtp_host}:"
                        f"{engine.settings.campaign_smtp_port}..."):  # fmt: skip
            counts = campaign.send_delivery(engine, found["id"])

    def human(d: dict[str, Any]) -> None:
        out.print(f"delivery [bold]{plain(d['delivery'])}[/]: {d['sentNow']:,} sent now; in all {d['sent']:,} sent, "
                  f"{d['failed']:,} failed, {d['bounced']:,} bounced, {d['pending']:,} pending "
                  f"({d['targeted']:,} targeted, {plain(d['seconds'])} s)", highlight=False, markup=True)  # fmt: skip
        left_out = ", ".join(f"{n:,} {reason}" for reason, n in d["excluded"].items() if n)
        if left_out:
            out.print(f"  left out: {left_out}", highlight=False)
        if d["atRisk"]:
            out.print(f"  {d['atRisk']:,} messages were in flight when an earlier run stopped: sent again, they may "
                      "arrive twice", highlight=False)  # fmt: skip
        if d["failed"] or d["bounced"]:
            out.print(f"  see `accord campaign delivery log {d['delivery']} --status failed` (or bounced)",
                      highlight=False)  # fmt: skip

    emit({"delivery": found["name"], **counts}, as_json, human)


@delivery_app.command("log")
def delivery_log(
    name: str = typer.Argument(...),
    status: str = typer.Option(None, "--status", help="pending, sending, sent, failed or bounced."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000), offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """The delivery's send log (broadLog): rows by status, and a page of rows."""
    from accord.campaign.broadlog import delivery_log as read_log

    def human(d: dict[str, Any]) -> None:
        out.print(f"delivery [bold]{plain(d['delivery'])}[/] ({plain(d['state'])}): "
                  + ", ".join(f"{n:,} {s}" for s, n in d["counts"].items()), highlight=False, markup=True)  # fmt: skip
        table = new_table("external id", "e-mail", "status", "reason", "at")
        for row in d["rows"]:
            table.add_row(row["externalId"], row["email"], row["status"], row["reason"] or "-", row["at"])
        out.print(table)
        out.print(f"{len(d['rows'])} of {d['total']:,} from {offset}", highlight=False)

    emit(read_log(state.campaign(), name, status=status, limit=limit, offset=offset), as_json, human)


def list_subscribe(
    name: str = typer.Argument(..., help="A double opt-in list."), email: str = typer.Argument(...),
    field: list[str] = typer.Option(None, "--field", help="KEY=VALUE: firstName, lastName, phone, externalId, or "
                                    "custom.NAME for a custom field (repeat)."),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Subscribe an address to a double opt-in list and send it the confirmation e-mail; it is a member once
    it follows the link."""
    from accord.campaign.mailer import subscribe_and_confirm

    fields: dict[str, Any] = {}
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--field {item!r}: write KEY=VALUE", code="CAMPAIGN-0400-400")
        if key.startswith("custom."):
            fields.setdefault("custom", {})[key.removeprefix("custom.")] = value
        else:
            fields[key] = value
    made = subscribe_and_confirm(state.campaign(), name, email, fields)
    emit(made, as_json, lambda d: out.print(f"{d['email']} is pending on list {d['list']}: confirmation "
                                            f"{d['confirmation']['status']}", highlight=False))  # fmt: skip
