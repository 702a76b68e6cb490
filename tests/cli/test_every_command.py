"""Every command of the CLI's command tree, run with valid input on a small home, its output's content checked.

COMMANDS holds one case per command path: its arguments (`--json` is added: every command but `serve`
takes it), what must be done first, and what a user would check in the output or in the next
command's. A command without a case, or a case without a command, fails
`test_every_command_has_a_case`, which names them. Cases do not depend on each other's order.
`accord serve` runs as a real process, and a token revoked with the CLI is refused over HTTP.
"""

from __future__ import annotations

import getpass
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main

from accord import segment
from accord.access import Permission, create_token
from accord.cli.app import app
from accord.workspace import Workspace
from tests.checks import Check, Ref, each, has, holding, lacks, lists
from tests.conftest import CliResult, run_cli
from tests.http_receiver import answer
from tests.small_home import (
    LOYALTY_V2,
    MATCHING_RULES,
    OSLO,
    PARISIANS,
    PEOPLE_MAPPING,
    PREFS,
    SCRATCH_MAPPING,
    TWINS_CSV,
    SmallHome,
    accord_serve,
    small_home,
)


class Cli:
    """The `accord` command on the walk's home; `{files}` and the home's ids are filled into its arguments."""

    def __init__(self, home: SmallHome) -> None:
        self.home, self.ids = home, home.ids
        self.fill = {**home.ids, "files": str(home.files)}

    def __call__(self, *args: str) -> CliResult:
        return run_cli(*(a.format(**self.fill) for a in args))

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.code == 0, (args, result.stdout, result.stderr)
        return result.json()


Step = Callable[[Cli], None]


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    """What follows the command's name."""
    check: Check
    options: tuple[str, ...] = ()
    """Global options, before the command's name."""
    before: Step | None = None
    lines: bool = False
    """The output is JSON lines (one document a line), not one document."""
    shows: str | None = None
    """Run it a second time for people (no `--json`): this text (ids filled in) is in what it prints."""
    process: bool = False
    """The command does not return (`serve`): the check runs it as a real process."""


def then(*args: str, check: Check) -> Check:
    """The next command (with `--json`) succeeds and passes the check."""

    def step(cli: Cli, _body: Any) -> None:
        check(cli, cli.json(*args))

    return step


def fails(*args: str, code: int) -> Check:
    """The next command fails with this exit code and a JSON error that says why."""

    def step(cli: Cli, _body: Any) -> None:
        result = cli(*args, "--json")
        assert result.code == code and result.json()["error"]["message"], (args, result.stdout)

    return step


def each_step(*steps: Step) -> Step:
    def step(cli: Cli) -> None:
        for one in steps:
            one(cli)

    return step


def stdin(text: str) -> Step:
    """What the next command reads from standard input (the CLI runs in this process)."""

    def step(_cli: Cli) -> None:
        sys.stdin = io.StringIO(text)

    return step


def stdin_restored(_cli: Cli, _body: Any) -> None:
    sys.stdin = sys.__stdin__


def run(*args: str) -> Step:
    def step(cli: Cli) -> None:
        result = cli(*args)
        assert result.code == 0, (args, result.stdout, result.stderr)

    return step


def graph_ids(cli: Cli, *crm_ids: str) -> list[str]:
    return sorted(str(cli.json("profile", "get", "--namespace", "CRMID", "--id", c)["graphId"]) for c in crm_ids)


def members_are(*crm_ids: str) -> Check:
    def check(cli: Cli, body: Any) -> None:
        assert sorted(m["graphId"] for m in body["items"]) == graph_ids(cli, *crm_ids) and body["total"] == len(crm_ids)

    return check


def in_scratch(*present: str, absent: tuple[str, ...] = ()) -> Check:
    """The scratch dataset's records now: these `_id`s are there, those are not."""

    def check(cli: Cli, _body: Any) -> None:
        found = {r["_id"] for r in cli.json("dataset", "preview", "scratch", "--limit", "100")}
        assert set(present) <= found and not set(absent) & found, found

    return check


def two_commerce_events(_cli: Cli, rows: Any) -> None:
    assert len(rows) == 2 and all(r["eventType"].startswith("commerce.") for r in rows), rows


def dee_failed(_cli: Cli, rows: Any) -> None:
    assert [(r["lineNumber"], r["record"]["crm"], r["record"]["email"]) for r in rows] == [(5, "C4", "not-an-email")]


def bundle_of_ann(cli: Cli, job: Any) -> None:
    bundle = json.loads((cli.home.files / "ann-bundle.json").read_text())
    assert bundle["job"] == job["id"] and [r["_tenant"]["crmId"] for r in bundle["lake"]["crm"]] == ["C1"]
    assert bundle["profileStore"][0]["attributes"]["person"]["name"]["firstName"] == "Ann"


def two_admins(_cli: Cli, tokens: Any) -> None:
    assert [t["name"] for t in tokens if not t["revoked"]].count("admin") == 2, tokens


def run_listed(cli: Cli, body: Any) -> None:
    runs = cli.json("runs", "list", "--dataflow", "crm-files")
    assert [(r["status"], r["recordsIngested"]) for r in runs if r["id"] == body["id"]] == [("success", 1)]


def proposed_twins(cli: Cli, body: Any) -> None:
    assert body["records"] == 142 and body["proposed"] > 0
    found = cli.json("identity", "matches", "--limit", "1000")
    assert found["total"] == body["proposed"]
    assert {"Z1", "Z2"} in [{m["from"]["id"], m["to"]["id"]} for m in found["items"]]


def ann_profile(_cli: Cli, body: Any) -> None:
    assert body["attributes"]["person"]["name"]["firstName"] == "Ann" and body["mergePolicy"] == "latest"
    assert {"namespace": "CRMID", "id": "C1"} in body["identities"] and body["events"]["total"] == 2
    assert body["segmentMembership"]["parisians"]["status"] in ("realized", "existing")  # a later job: existing


def demo_summary(_cli: Cli, body: Any) -> None:
    assert [b["status"] for b in body["batches"]] == ["success", "success"]
    assert {i["namespace"] for i in body["unifiedProfile"]["identities"]} >= {"CRMID", "Email"}


def serve_and_revoke(cli: Cli, _body: None) -> None:
    """`accord serve` as a real process answers with the home's token, then with a token made by `accord
    token create`, which `accord token revoke` then shuts out (401 in the JSON error shape)."""
    with accord_serve(cli.home) as base:
        schemas = httpx.get(f"{base}/schemas", headers={"Authorization": f"Bearer {cli.home.token}"}).json()
        assert {"crm", "web", "people"} <= {s["name"] for s in schemas}
        made = cli.json("token", "create", "robot")
        bearer = {"Authorization": f"Bearer {made['token']}"}
        assert httpx.get(f"{base}/datasets/web", headers=bearer).json()["rowCount"] == 3
        assert cli.json("token", "revoke", made["id"]) == {"revoked": made["id"]}
        refused = httpx.get(f"{base}/datasets/web", headers=bearer)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == {"code": "ACCORD-0401-401", "message": "the API token is unknown or revoked",
                                  "details": {}}  # fmt: skip


def stream_a_message(name: str) -> Step:
    """A message taken by the home's scratch inlet (in the event log, waiting for the processor)."""

    def step(cli: Cli) -> None:
        from accord.streaming import StreamingService

        ws = Workspace.open(cli.home.settings)
        service = StreamingService(ws)
        try:
            body = json.dumps({"body": {"xdmEntity": {"_id": name, "person": {"name": {"firstName": name}}}}})
            answer = service.collect(cli.ids["inlet"], cli.home.token, None, body.encode(), batch=False)
            assert answer["status"] == 200, answer
        finally:
            service.stop()
            ws.close()

    return step


def worker_processes(cli: Cli, _body: None) -> None:
    """`accord worker` as a real process takes what waits in the event log into the lake, and stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    stream_a_message("from-the-worker")(cli)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env |= {"ACCORD_HOME": str(cli.home.settings.home), "ACCORD_DUCKDB_THREADS": "2"}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "accord"), "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while cli.json("streaming", "stats")["lagMessages"] > 0:
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not process the log"
            time.sleep(0.2)
        while (stats := cli.json("streaming", "stats"))["processed"] < 1:  # its figures, published each second
            assert time.monotonic() < deadline, f"the worker's figures are not in the stats: {stats}"
            time.sleep(0.2)
        assert stats["processes"] == 1 and stats["processorRunning"] and stats["batches"] >= 1, stats
    finally:
        os.kill(worker.pid, signal.SIGTERM)
        said = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, said
    assert cli.json("streaming", "stats")["processes"] == 0  # a worker that stops withdraws its figures
    preview = cli.json("dataset", "preview", "scratch", "--limit", "100")
    assert "from-the-worker" in json.dumps(preview)


def campaign_serve(cli: Cli, _body: None) -> None:
    """`accord campaign serve` as a real process: the engine's routes with the home's token, no CDP routes."""
    with accord_serve(cli.home, campaign_only=True) as base:
        bearer = {"Authorization": f"Bearer {cli.home.token}"}
        assert httpx.get(f"{base}/campaign/lists", headers=bearer).json()[0]["name"] == "vip"
        assert httpx.get(f"{base}/schemas", headers=bearer).status_code == 404
        assert httpx.get(f"{base}/campaign/lists").status_code == 401


CLI_LETTER = {"name": "cli-letter", "label": "From the shell", "sender": "Shop <news@shop.example>",
              "subject": "{{ recipient.firstName }}, from the shell", "text": "Hi {{ recipient.firstName }}",
              "target": {"list": "vip"}}  # fmt: skip
CLI_FLOW = {"name": "cli-flow", "label": "From the shell", "activities": [
    {"name": "members", "type": "query", "options": {"filter": {"field": "externalId", "op": "eq", "value": "C1"}},
     "next": ["copy"]},
    {"name": "copy", "type": "list-update", "options": {"list": "cli-flow"}}]}  # fmt: skip
AUDIENCE = "externalId,email,firstName,segmentMembership.status\nC1,ann@example.com,Ann,realized\n"


def mailed(to: str, subject: str, text: str) -> Check:
    """The home's SMTP server holds one message to `to` with this subject, its text part holding `text`."""

    def check(cli: Cli, _body: Any) -> None:
        assert cli.home.smtp is not None
        found = [r.message() for r in cli.home.smtp.received() if r.recipients == [to]]
        found = [m for m in found if m["Subject"] == subject]
        assert len(found) == 1 and text in found[0].get_body(("plain",)).get_content(), subject

    return check


def landed(name: str, *, run: bool = False) -> Step:
    """An audience file of Ann in the instance's landing folder (imported at once when `run`)."""

    def step(cli: Cli) -> None:
        (cli.home.settings.campaign_landing_folder / name).write_text(AUDIENCE)
        if run:
            assert cli.json("campaign", "import")["status"] == "success"

    return step


def delivered_report(cli: Cli) -> None:
    """A DSN in the bounce mailbox saying Ann's `vip-news` message was delivered (read, not a bounce)."""
    import mailbox

    from tests.campaign.test_bounces import delivery_report

    assert cli.home.smtp is not None and cli.home.settings.campaign_bounce_mailbox is not None
    [sent] = [r.message() for r in cli.home.smtp.received() if r.message()["Subject"] == "Ann, news of vip-news"]
    mailbox.Maildir(cli.home.settings.campaign_bounce_mailbox).add(delivery_report(sent, "delivered", "2.0.0"))


FILES = {  # input files of the commands, written beside the home
    "prefs.json": json.dumps(PREFS), "loyalty-v2.json": json.dumps(LOYALTY_V2),
    "people.json": json.dumps(PEOPLE_MAPPING), "scratch.json": json.dumps(SCRATCH_MAPPING),
    "rules.yaml": json.dumps(MATCHING_RULES), "more.csv": "crm,first\nm1,Mia\n", "twins.csv": TWINS_CSV,
    "flow.yaml": "source: {path: crm, glob: '*.csv'}\nerrorThreshold: 50\n",
    "flow-edit.yaml": "errorThreshold: 20\nbackfill: false\n", "oslo.pql": OSLO,
    "emails.yaml": "mapping:\n- {source: identityMap.Email, target: email}\n- {source: person.name.firstName, "
                   "target: first_name}\nmandatory: [email]\nfile: {format: jsonl}\n",
    "cli-letter.json": json.dumps(CLI_LETTER), "cli-flow.json": json.dumps(CLI_FLOW),
    "cli-edit.json": json.dumps({**CLI_FLOW, "name": "cli-edit"}),
    "cli-edited.json": json.dumps({**CLI_FLOW, "name": "cli-edit", "label": "Edited"}),
    "cli-doomed.json": json.dumps({**CLI_FLOW, "name": "cli-doomed"}),
    "crm-destination.yaml": "id: crm\nname: CRM\nexportType: profile\nurl: https://crm.example.com/in\n"
                            "body: '{\"n\": {{ profiles | length }}}'\n",
}  # fmt: skip
ACTIVATE = ("--destination", "outbox", "--segment", "bobs", "--mapping", "{files}/emails.yaml")
ANN = ("--namespace", "CRMID", "--id", "C1")
FLOW = ("--connection", "landing", "--dataset", "scratch")
SQLITE = ("--connector", "database", "--config", "{files}/sqlite.yaml")
RULES = {"uniqueNamespaces": ["CRMID"], "priority": ["CRMID", "Email", "LoyaltyID"]}

# fmt: off
COMMANDS: dict[tuple[str, ...], Command] = {
    ("init",): Command(("--new-token",), each(
        has({"created": False, "token": lambda t: t.startswith("acc_"), "home": lambda h: h.endswith("home")}),
        then("token", "list", check=two_admins))),
    ("ingest",): Command(("{files}/more.csv", "-d", "scratch", "-m", "{files}/scratch.json"), each(
        has({"status": "success", "dataset": "scratch", "outputRecordCount": 1}), in_scratch("m1"))),
    ("serve",): Command((), serve_and_revoke, process=True),
    ("functions",): Command((), lists({"name": "lower", "returns": "string"}, {"name": "date"}), shows="lower("),
    ("demo",): Command(("--rows", "30"), demo_summary, options=("--home", "{files}/demo")),
    # the campaign engine
    ("campaign", "init"): Command((), has({"instance": "default", "created": False, "token": None}),
                                  shows="campaign instance default ready"),
    ("campaign", "status"): Command((), has({"instance": "default", "limits": lambda lim: lim["fields"] == 20}),
                                    shows="instance default"),
    ("campaign", "serve"): Command((), campaign_serve, process=True),
    ("campaign", "recipients"): Command((), has({"total": 2, "recipients": lambda r: [x["externalId"] for x in r] == [
        "C1", "C2"]}), shows="ann@example.com"),
    ("campaign", "opt-out"): Command(("C2", "--channel", "all"), each(has({"blackList": True}), then(
        "campaign", "recipients", check=has({"recipients": lambda r: r[1]["blackList"]}))), shows="C2: opted out"),
    ("campaign", "list", "create"): Command(("cli-list", "--double-opt-in"), then("campaign", "list", "list",
        check=lists({"name": "cli-list", "origin": "subscription", "members": 0}))),
    ("campaign", "list", "list"): Command((), lists({"name": "vip", "members": 1}), shows="vip"),
    ("campaign", "list", "members"): Command(("vip",), lambda _c, body: body == ["C1"], shows="C1"),
    ("campaign", "address", "add"): Command(("copies@example.com", "--kind", "seed"), then(
        "campaign", "address", "list", "--kind", "seed", check=lists({"email": "copies@example.com"}))),
    ("campaign", "address", "list"): Command((), lists({"email": "proof@example.com", "kind": "test"}),
                                             shows="proof@example.com"),
    ("campaign", "suppression", "add"): Command(("Old@Example.com", "--reason", "hard-bounce"), then(
        "campaign", "suppression", "list", check=lists({"email": "old@example.com", "reason": "hard-bounce"}))),
    ("campaign", "suppression", "list"): Command((), lists({"email": "seen@example.com", "reason": "complained"}),
        before=run("campaign", "suppression", "add", "seen@example.com", "--reason", "complained"),
        shows="seen@example.com"),
    ("campaign", "suppression", "remove"): Command(("gone@example.com",), then("campaign", "suppression", "list",
        check=lacks({"email": "gone@example.com"})), before=run("campaign", "suppression", "add", "gone@example.com")),
    ("campaign", "export-logs"): Command((), has({"instance": "default", "deliveryLogs": lambda n: n >= 1,
        "files": lambda f: [x["name"].split("_")[0] for x in f] == ["deliverylogs"]}),  # vip-news's row, at least
        shows="0 delivery log rows"),  # the second time: the first export took them
    ("campaign", "connect"): Command((), each(has({"destinationAccount": "campaign-default"}), then(
        "destination", "list", check=lists({"name": "campaign-default", "destination": "accord-campaign"})))),
    ("campaign", "delivery", "create"): Command(("--file", "{files}/cli-letter.json"), each(has({"name": "cli-letter",
        "state": "draft"}), then("campaign", "delivery", "show", "cli-letter", check=has({**CLI_LETTER,
        "state": "draft"})))),
    ("campaign", "delivery", "list"): Command((), lists({"name": "vip-news", "state": "sent", "counts": {"sent": 1}}),
                                              shows="vip-news"),
    ("campaign", "delivery", "show"): Command(("vip-news",), has({"id": Ref("vip-news"), "target": {"list": "vip"},
        "state": "sent"}), shows="delivery vip-news (sent)"),
    ("campaign", "delivery", "check"): Command(("vip-news",), has({"recipients": 1, "fields": ["firstName"],
        "missing": {}}), shows="1 recipients; fields used: firstName"),
    ("campaign", "delivery", "proof"): Command(("vip-proof", "--to", "boss@example.com"), each(has({"sent": 1,
        "messages": [{"to": "boss@example.com", "status": "sent"}]}), mailed("boss@example.com",
        "[PROOF] Ann, news of vip-proof", "Hello Ann"))),
    ("campaign", "delivery", "send"): Command(("vip-send",), each(has({"delivery": "vip-send", "sentNow": 1,
        "sent": 1, "failed": 0}), mailed("ann@example.com", "Ann, news of vip-send", "Hello Ann"),
        then("campaign", "delivery", "log", "vip-send", check=has({"counts": {"sent": 1}})))),
    ("campaign", "delivery", "log"): Command(("vip-news", "--status", "sent"), has({"total": 1, "counts": {"sent": 1,
        "pending": 0}, "rows": [{"externalId": "C1", "email": "ann@example.com", "status": "sent"}]}),
        shows="ann@example.com"),
    ("campaign", "list", "subscribe"): Command(("cli-letters", "Bob@Example.com", "--field", "firstName=Bob"), each(
        has({"list": "cli-letters", "status": "pending", "confirmation": {"to": "bob@example.com", "status": "sent"}}),
        mailed("bob@example.com", "Please confirm your subscription to cli-letters", "/campaign/t/s/"),
        then("campaign", "list", "members", "cli-letters", check=lambda _c, ids: ids == [])),
        before=run("campaign", "list", "create", "cli-letters", "--double-opt-in")),
    ("campaign", "workflow", "create"): Command(("--file", "{files}/cli-flow.json"), then("campaign", "workflow",
        "show", "cli-flow", check=has({**CLI_FLOW, "enabled": True}))),
    ("campaign", "workflow", "update"): Command(("cli-edit", "--file", "{files}/cli-edited.json", "--disable"), then(
        "campaign", "workflow", "show", "cli-edit", check=has({"label": "Edited", "enabled": False})),
        before=run("campaign", "workflow", "create", "--file", "{files}/cli-edit.json")),
    ("campaign", "workflow", "list"): Command((), lists({"name": "audience-import", "enabled": True},
                                                        {"name": "vip-copy"}), shows="vip-copy"),
    ("campaign", "workflow", "show"): Command(("vip-copy",), has({"activities": lambda a: [x["type"] for x in a] == [
        "query", "list-update"]}), shows="members (query) -> copy (list-update)"),
    ("campaign", "workflow", "delete"): Command(("cli-doomed",), then("campaign", "workflow", "list", check=lacks({
        "name": "cli-doomed"})), before=run("campaign", "workflow", "create", "--file", "{files}/cli-doomed.json")),
    ("campaign", "workflow", "run"): Command(("vip-copy",), each(has({"workflow": "vip-copy", "status": "success",
        "activities": lambda a: a[0]["counts"] == {"population": 1}}), then("campaign", "list",
        "members", "vip-copy", check=lambda _c, ids: ids == ["C1"])), shows="copy"),
    ("campaign", "workflow", "resume"): Command(("{failed_run}",), has({"id": Ref("failed_run"), "status": "success",
        "activities": lambda a: [(x["activity"], x["status"]) for x in a][-1] == ("alert", "success")})),
    ("campaign", "workflow", "runs"): Command(("vip-copy",), lists({"id": Ref("workflow_run"), "status": "success"}),
                                              shows="manual"),
    ("campaign", "workflow", "show-run"): Command(("{workflow_run}",), has({"workflow": "vip-copy", "activities": [
        {"activity": "members", "counts": {"population": 1}}, {"activity": "copy", "status": "success"}]}),
        shows="members"),
    ("campaign", "import"): Command((), each(has({"workflow": "audience-import", "status": "success"}), then(
        "campaign", "loads", check=lists({"file": "cli_segmentcl1_20261130080000.csv", "loaded": 1, "rejected": 0}))),
        before=landed("cli_segmentcl1_20261130080000.csv"), shows="audience-import"),
    ("campaign", "loads"): Command((), lists({"file": "clo_segmentco1_20261130080000.csv", "loaded": 1,
        "list": "clo_segmentco1"}), before=landed("clo_segmentco1_20261130080000.csv", run=True),
        shows="clo_segmentco1"),
    ("campaign", "bounces"): Command((), has({"read": 1, "ignored": 1, "hard": 0, "unreadable": 0}),
                                     before=delivered_report),
    # schemas and field groups
    ("schema", "create"): Command(("news", "--class", "profile", "-g", "personal-contact-details", "--identity",
                                   "personalEmail.address=Email:primary"), then("schema", "show", "news", check=has({
        "class": "profile", "identities": [{"path": "personalEmail.address", "namespace": "Email",
                                            "primary": True}]}))),
    ("schema", "update"): Command(("draft", "-g", "loyalty"), then("schema", "show", "draft", check=has({
        "version": 2, "fieldGroups": ["demographic-details", "loyalty"]}))),
    ("schema", "show"): Command(("crm",), has({"identities": [
        {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
        {"path": "personalEmail.address", "namespace": "Email", "primary": False}]}), shows="_tenant.tier"),
    ("schema", "list"): Command((), lists({"name": "crm", "datasets": holding("crm", "scratch")},
                                          {"name": "web", "class": "experienceevent"}), shows="crm, scratch"),
    ("schema", "delete"): Command(("old",), each(has({"deleted": "old"}), fails("schema", "show", "old", code=3)),
                                  before=run("schema", "create", "old", "--class", "profile", "-g", "loyalty")),
    ("schema", "union"): Command(("profile",), has({"fields": {"_tenant": {"properties": {"tier": dict}}}}),
                                 shows="personalEmail.address"),
    ("fieldgroup", "list"): Command((), lists({"name": "loyalty", "standard": False}, {"name": "identitymap"}),
                                    shows="loyalty"),
    ("fieldgroup", "show"): Command(("loyalty",), has({"fields": {"_tenant": {"properties": {"crmId": dict}}}})),
    ("fieldgroup", "create"): Command(("{files}/prefs.json",), then("fieldgroup", "show", "prefs", check=has(PREFS))),
    ("fieldgroup", "update"): Command(("loyalty", "{files}/loyalty-v2.json"), each(has({"version": 2}), then(
        "schema", "union", "profile", check=has({"fields": {"_tenant": {"properties": {"since": dict}}}})))),
    # datasets and batches
    ("dataset", "create"): Command(("spare", "--schema", "crm"), then("dataset", "show", "spare", check=has({
        "schema": "crm", "profileEnabled": False, "rowCount": 0}))),
    ("dataset", "list"): Command((), lists({"name": "web", "rowCount": 3}, {"name": "app", "profileEnabled": True}),
                                 shows="people"),
    ("dataset", "show"): Command(("crm",), has({"schema": "crm", "class": "profile", "rowCount": lambda n: n >= 4})),
    ("dataset", "enable-profile"): Command(("later",), then("dataset", "show", "later", check=has({
        "profileEnabled": True})), before=run("dataset", "create", "later", "--schema", "web")),
    ("dataset", "preview"): Command(("web", "--limit", "2"), two_commerce_events, shows="commerce."),
    ("dataset", "stats"): Command(("web",), has({"rowCount": 3, "fields": {"eventType": {"count": 3, "distinct": 2}}}),
                                  shows="eventType"),
    ("dataset", "delete-records"): Command(("scratch", "--id", "r1"), each(has({"deletedRecords": 1}),
                                                                           in_scratch("r2", absent=("r1",)))),
    ("dataset", "ttl"): Command(("clicks", "--days", "30"), then("dataset", "show", "clicks", check=has({
        "ttlDays": 30}))),
    ("dataset", "contract"): Command(("strict", "freeze"), then("dataset", "show", "strict", check=has({
        "schemaContract": "freeze"})), before=run("dataset", "create", "strict", "--schema", "crm")),
    ("dataset", "purge"): Command(("clicks",), each(has({"purgedRecords": 2, "batches": 1}), then(
        "dataset", "show", "clicks", check=has({"rowCount": 1}))),
        before=run("dataset", "ttl", "clicks", "--days", "30")),
    ("batch", "show"): Command(("{crm_batch}",), has({"dataset": "crm", "inputRecordCount": 4, "failedRecordCount": 1}),
                               shows="see the failed rows with: accord batch errors"),
    ("batch", "list"): Command(("--dataset", "crm"), lists({"id": Ref("crm_batch"), "status": "success"}), shows="crm"),
    ("batch", "errors"): Command(("{crm_batch}",), dee_failed, lines=True),
    ("batch", "delete"): Command(("{scratch_batch}",), each(has({"status": "deleted"}),
                                                            in_scratch("r2", absent=("d1", "d2")))),
    # sandboxes and tokens
    ("sandbox", "list"): Command((), lists({"name": "prod", "title": "Production"}), shows="prod"),
    ("sandbox", "create"): Command(("dev", "--title", "Development"), then("sandbox", "list", check=lists({
        "name": "dev", "title": "Development"}))),
    ("token", "create"): Command(("ci", "--user", "admin", "--role", "analyst", "--sandbox", "prod", "--expires",
                                  "30d"), each(has({"name": "ci", "role": "analyst", "token": lambda t: t.startswith(
        "acc_")}), then("token", "list", check=lists({"name": "ci", "revoked": False, "expiresAt": str})))),
    ("token", "list"): Command((), lists({"name": "admin", "user": "admin", "role": None, "revoked": False}),
                               shows="admin"),
    ("user", "create"): Command(("kim", "--email", "kim@example.com"), each(has({"name": "kim", "kind": "person",
        "roles": []}), then("user", "list", check=lists({"name": "kim", "email": "kim@example.com"})))),
    ("user", "list"): Command((), lists({"name": "admin", "roles": [{"role": "admin", "sandbox": "*"}]}),
                              shows="admin  person"),
    ("user", "show"): Command(("admin",), has({"name": "admin", "disabled": False}), shows="admin (every sandbox)"),
    ("user", "disable"): Command(("leaver",), each(has({"disabled": True}), then("user", "show", "leaver", check=has({
        "disabled": True}))), before=run("user", "create", "leaver")),
    ("user", "enable"): Command(("back",), then("user", "show", "back", check=has({"disabled": False})),
                                before=each_step(run("user", "create", "back"), run("user", "disable", "back"))),
    ("user", "password"): Command(("pat", "--password-stdin"), each(stdin_restored, has({"passwordSet": True}), then(
        "user", "show", "pat", check=has({"hasPassword": True}))),
        before=each_step(run("user", "create", "pat"), stdin("a long passphrase\n"))),
    ("role", "list"): Command((), lists({"name": "auditor", "builtIn": True, "permissions": holding(
        "View User Activity Log")}), shows="marketer (built-in)"),
    ("role", "create"): Command(("campaigner", "-p", "View Campaign", "-p", "manage-campaign"), then("role", "list",
        check=lists({"name": "campaigner", "permissions": ["View Campaign", "Manage Campaign"]}))),
    ("role", "grant"): Command(("marketer", "--user", "mia", "--sandbox", "prod"), then("user", "show", "mia",
        check=has({"roles": [{"role": "marketer", "sandbox": "prod"}]})), before=run("user", "create", "mia")),
    ("role", "revoke"): Command(("auditor", "--user", "ola"), then("user", "show", "ola", check=has({"roles": []})),
                                before=each_step(run("user", "create", "ola"), run("role", "grant", "auditor",
                                                                                   "--user", "ola"))),
    ("label", "list"): Command((), lists({"name": "C12", "category": "contract"}), shows="I1  identity"),
    ("label", "create"): Command(("RHD", "--description", "restricted health data"), then("label", "list",
        check=lists({"name": "RHD", "category": "custom"}))),
    ("label", "add"): Command(("crm", "I1", "C2", "--field", "personalEmail.address"), has({"fields": {
        "personalEmail.address": ["C2", "I1"]}}), shows="personalEmail.address: C2, I1"),
    ("label", "remove"): Command(("scratch", "C12"), has({"labels": ["C1"]}),
                                 before=run("label", "add", "scratch", "C1", "C12")),
    ("label", "show"): Command(("web",), has({"dataset": "web", "labels": ["C9"]}), shows="web: C9",
                               before=run("label", "add", "web", "C9")),
    ("action", "list"): Command((), lists({"name": "segmentMatch", "core": True}), shows="Segment Match"),
    ("action", "create"): Command(("smsTargeting", "--title", "SMS targeting"), then("action", "list", check=lists({
        "name": "smsTargeting", "core": False}))),
    ("policy", "list"): Command((), lists({"name": "core-analytics", "enabled": False}), shows="core-analytics"),
    ("policy", "create"): Command(("no-c9", "--action", "dataScience", "-e", "C9", "--enable"), has({
        "name": "no-c9", "enabled": True, "marketingAction": "dataScience"})),
    ("policy", "enable"): Command(("core-analytics",), has({"enabled": True})),
    ("policy", "disable"): Command(("core-segment-match",), has({"enabled": False}),
                                   before=run("policy", "enable", "core-segment-match")),
    ("policy", "evaluate"): Command(("--activation", "paris-out"), has({"allowed": True, "violations": []}),
                                    shows="breaks no enabled policy"),
    ("audit", "list"): Command(("--object", "schemas/audited"), lists({"action": "accord schema create", "via": "cli",
        "outcome": "success", "sandbox": "prod"}), before=run("schema", "create", "audited", "--class", "profile"),
        shows="accord schema create"),
    ("audit", "export"): Command(("-o", "{outbox}/activity.jsonl"), has({"entries": lambda n: n > 0}),
                                 shows="entries written to"),
    ("whoami",): Command((), has({"owner": True, "sandbox": "prod",
                                  "permissions": lambda p: set(p) == {str(x) for x in Permission}}),
                         shows="the home's owner"),
    ("token", "revoke"): Command(("{spare_token}",), then("token", "list", check=lists({
        "id": Ref("spare_token"), "revoked": True}))),
    # sources
    ("sources", "list"): Command((), lists({"id": "local", "secretFields": []}, {"id": "s3", "secretFields": [
        "secretAccessKey"]}), shows="secretAccessKey"),
    ("sources", "show"): Command(("local",), has({"capabilities": {"files": True}, "config": {"properties": {
        "root": dict}}})),
    ("connection", "create"): Command(("spare-db", *SQLITE), each(has({"name": "spare-db", "connector": "database"}),
                                                                 then("connection", "test", "spare-db", check=has({
        "ok": True})))),
    ("connection", "list"): Command((), lists({"name": "landing", "connector": "local", "config": {
        "root": lambda r: r.endswith("/landing")}}, {"name": "shopdb"}), shows="landing"),
    ("connection", "show"): Command(("shopdb",), has({"name": "shopdb", "connector": "database", "secretFields": [],
                                                      "config": {"dialect": "sqlite"}}), shows="shopdb"),
    ("connection", "test"): Command(("landing",), has({"ok": True, "steps": [{"step": "folder exists", "ok": True},
                                                                           {"step": "folder readable", "ok": True}]}),
                                    shows="folder readable"),
    ("connection", "delete"): Command(("gone-db",), each(has({"deleted": "gone-db"}), then(
        "connection", "list", check=lacks({"name": "gone-db"}))),
        before=run("connection", "create", "gone-db", *SQLITE)),
    ("dataflow", "create"): Command(("spare-flow", *FLOW, "--file", "{files}/flow.yaml", "--mapping",
                                     "{files}/scratch.json", "--every", "2 hours"), has({
        "source": {"path": "crm", "glob": "*.csv"}, "errorThreshold": 50, "mapping": SCRATCH_MAPPING,
        "schedule": {"frequency": "hour", "interval": 2}})),
    ("dataflow", "edit"): Command(("edited", "--file", "{files}/flow-edit.yaml", "--every", "1 day"), then(
        "dataflow", "list", check=lists({"name": "edited", "errorThreshold": 20, "backfill": False,
                                         "schedule": {"frequency": "day", "interval": 1}})),
        before=run("dataflow", "create", "edited", *FLOW, "--file", "{files}/flow.yaml")),
    ("dataflow", "list"): Command((), lists({"name": "crm-files", "connection": "landing", "dataset": "crm"}),
                                  shows="crm-files"),
    ("dataflow", "run"): Command(("crm-files",), each(has({"status": "success", "files": 1, "recordsIngested": 1}),
                                                       run_listed), before=lambda cli: cli.home.drop_late_file()),
    ("dataflow", "enable"): Command(("crm-files",), has({"name": "crm-files", "enabled": True}),
                                    before=run("dataflow", "disable", "crm-files")),
    ("dataflow", "disable"): Command(("paused",), then("dataflow", "list", check=lists({
        "name": "paused", "enabled": False})), before=run("dataflow", "create", "paused", *FLOW)),
    ("dataflow", "delete"): Command(("doomed",), each(has({"deleted": "doomed"}), then("dataflow", "list", check=lacks({
        "name": "doomed"}))), before=run("dataflow", "create", "doomed", *FLOW)),
    ("runs", "list"): Command(("--dataflow", "crm-files"), lists({"id": Ref("run"), "status": "success"}),
                              shows="{run}"),  # whole, to copy into `accord runs show`
    ("runs", "show"): Command(("{run}",), has({"recordsIngested": 1, "files": 1, "errors": []})),
    ("alert", "subscribe"): Command(("--event", "run.delay", "--delay-minutes", "150", "--webhook",
                                     "https://hooks.example.com/accord"), then("alert", "subscriptions", check=lists({
        "event": "run.delay", "delayMinutes": 150, "webhook": "hooks.example.com"}))),
    ("alert", "subscriptions"): Command((), lists({"event": "run.success", "dataflow": "crm-files"})),
    ("alert", "list"): Command((), lists({"event": "run.success", "runId": Ref("run"), "delivery": "none"}),
                               shows="run.success"),
    # destinations and activation
    ("destinations", "list"): Command((), lists({"id": "local", "delivery": "batch", "secretFields": []}),
                                      shows="accord-campaign"),  # an id: never cut
    ("destinations", "show"): Command(("local",), has({"exportType": "profile", "files": {
        "formats": ["csv", "jsonl", "parquet"]}, "schedules": lambda s: "daily" in s})),
    ("destination", "connect"): Command(("spare-box", "--destination", "local", "--config", "{files}/outbox.yaml"),
                                        then("destination", "list", check=lists({"name": "spare-box",
                                                                                  "config": {"root": Ref("outbox")}}))),
    ("destination", "list"): Command((), lists({"name": "outbox", "destination": "local"}), shows="outbox"),
    # streaming
    ("streaming", "inlets"): Command((), lists({"id": Ref("inlet"), "name": "scratch-inlet", "dataset": "scratch"}),
                                     shows="scratch-inlet"),
    ("streaming", "create"): Command(("cli-inlet", "--dataset", "scratch"), each(has({"name": "cli-inlet",
        "dataset": "scratch", "public": False}), then("streaming", "show", "cli-inlet", check=has({"kind": "xdm"})),
        then("streaming", "create", "cli-segment", "--segment", "--profile-dataset", "seg-people", "--event-dataset",
             "seg-events", check=has({"kind": "segment", "writeKey": lambda k: len(k) >= 32,
                                      "profileDataset": "seg-people", "batchCollectionUrl": "/v1/batch"})))),
    ("streaming", "show"): Command(("scratch-inlet",), has({"id": Ref("inlet"), "dataset": "scratch"})),
    ("streaming", "delete"): Command(("gone-inlet",), then("streaming", "inlets", check=lacks({"name": "gone-inlet"})),
                                     before=run("streaming", "create", "gone-inlet", "--dataset", "scratch")),
    ("streaming", "process"): Command((), has({"taken": lambda n: n >= 1, "lagMessages": 0,
                                               "processed": lambda n: n >= 1}),
                                      before=stream_a_message("from-the-shell")),
    ("streaming", "stats"): Command((), has({"lagMessages": lambda n: n >= 1, "logged": lambda n: n >= 1}),
                                    before=stream_a_message("waiting")),
    ("worker",): Command((), worker_processes, process=True),
    ("destination", "show"): Command(("outbox",), has({"destination": "local", "config": {"root": Ref("outbox")}})),
    ("destination", "test"): Command(("outbox",), has({"ok": True, "steps": lambda steps: len(steps) == 2}),
                                     shows="ok folder writable"),
    ("destination", "actions"): Command(("acted-box", "-a", "exportToThirdParty"), then("destination", "show",
        "acted-box", check=has({"marketingActions": ["exportToThirdParty"]})), shows="exportToThirdParty",
        before=run("destination", "connect", "acted-box", "--destination", "local", "--config",
                   "{files}/outbox.yaml")),
    ("destination", "delete"): Command(("gone-box",), then("destination", "list", check=lacks({"name": "gone-box"})),
                                       before=run("destination", "connect", "gone-box", "--destination", "local",
                                                  "--config", "{files}/outbox.yaml")),
    ("activate",): Command(("bobs-out", *ACTIVATE, "--schedule", "daily@07:30", "--incremental"), then(
        "activation", "show", "bobs-out", check=has({"exportMode": "incremental", "file": {"format": "jsonl"},
        "audiences": [{"segment": "bobs", "schedule": {"frequency": "daily", "time": "07:30"}}]}))),
    ("activation", "create"): Command(("bobs-once", *ACTIVATE), has({"name": "bobs-once", "account": "outbox",
        "exportMode": "full", "audiences": [{"schedule": {"frequency": "once"}}]})),
    ("activation", "list"): Command((), lists({"name": "paris-out", "account": "outbox", "state": "enabled"}),
                                    shows="paris-out"),
    ("activation", "show"): Command(("paris-out",), has({"mandatory": ["email"], "mapping": lambda m: len(m) == 3})),
    ("activation", "run"): Command(("paris-out",), has({"status": "success", "full": False, "profilesReceived": 2,
                                                         "files": lambda f: [x["rows"] for x in f] == [0, 1]}),
                                   shows="parisians: sent nothing"),
    ("activation", "runs"): Command(("paris-out",), lists({"id": Ref("activation_run"), "status": "success"}),
                                    shows="{activation_run}"),
    ("activation", "enable"): Command(("paris-out",), then("activation", "show", "paris-out", check=has({
        "state": "enabled"})), before=run("activation", "disable", "paris-out")),
    ("activation", "disable"): Command(("idle-out",), then("activation", "show", "idle-out", check=has({
        "state": "disabled"})), before=run("activation", "create", "idle-out", *ACTIVATE)),
    ("activation", "deadletters"): Command(("paris-hook",), lists({"runId": Ref("hook_run"), "profiles": 2,
                                                                   "answer": {"status": 503}}), shows="503"),
    ("activation", "replay"): Command(("paris-hook",), each(has({"failed": 0, "delivered": lambda n: n >= 1}), then(
        "activation", "deadletters", "paris-hook", "--pending", check=lambda _cli, body: None if body == [] else (
            pytest.fail(f"still pending: {body}")))), before=lambda cli: cli.home.receiver.then(default=answer(200))),
    ("activation", "delete"): Command(("doomed-out",), then("activation", "list", check=lacks({"name": "doomed-out"})),
                                      before=run("activation", "create", "doomed-out", *ACTIVATE)),
    ("destination", "validate"): Command(("{files}/crm-destination.yaml",), has({"valid": True, "destination": {
        "id": "crm"}, "sample": [{"method": "POST", "url": "https://crm.example.com/in", "body": '{"n": 2}'}]}),
        shows="POST https://crm.example.com/in"),
}
COMMANDS |= {
    ("identity", "namespaces"): Command((), lists({"symbol": "LoyaltyID", "standard": False}, {"symbol": "Email"}),
                                        shows="LoyaltyID"),
    ("identity", "create"): Command(("MemberID", "--type", "partner_id"), then("identity", "namespaces", check=lists({
        "symbol": "MemberID", "type": "partner_id", "standard": False}))),
    ("identity", "build"): Command((), each(has({"identities": lambda n: n >= 11, "graphs": lambda n: n >= 5}), then(
        "identity", "graph", "--namespace", "Email", "--id", "ann@example.com", check=has({"primary": {
            "namespace": "CRMID", "id": "C1"}})))),
    ("identity", "graph"): Command(ANN, has({"identities": lambda ids: {"namespace": "Email", "id": "ann@example.com"}
                                             in ids}), shows="same record"),
    ("identity", "explain"): Command(("CRMID:C1", "Email:ann@example.com"), has({"sameGraph": True, "chain": [{
        "from": {"namespace": "CRMID", "id": "C1"}, "batch": Ref("crm_batch"), "dataset": "crm"}]}),
        shows="seen together in record {crm_batch}/data_0/0 of dataset crm"),
    ("identity", "match"): Command(("--file", "{files}/rules.yaml"), proposed_twins, before=run(
        "ingest", "{files}/twins.csv", "-d", "people", "-m", "{files}/people.json")),
    ("identity", "matches"): Command(("--limit", "5"), has({"total": lambda n: n > 0, "items": lambda items: 0 < len(
        items) <= 5 and all(m["probability"] >= 0.9 for m in items)}), shows="proposed links"),
    ("identity", "rules"): Command(("--priority", "CRMID,Email,LoyaltyID"), then("identity", "rules", check=has(RULES)),
                                   shows="unique: CRMID\npriority: CRMID > Email > LoyaltyID"),
    ("identity", "unlink"): Command(("CRMID:C2", "Email:bob@example.com", "--reason", "shared inbox"), then(
        "identity", "removals", check=lists({"kind": "link", "identity": {"namespace": "CRMID", "id": "C2"},
                                             "other": {"namespace": "Email", "id": "bob@example.com"}}))),
    ("identity", "remove"): Command(("Email:old@example.com", "--reason", "left"), then("identity", "removals",
        check=lists({"kind": "identity", "identity": {"namespace": "Email", "id": "old@example.com"},
                     "reason": "left"}))),
    ("identity", "removals"): Command((), lists({"kind": "identity", "identity": {"id": "gone@example.com"},
                                                 "removedBy": f"cli:{getpass.getuser()}"}),
                                      before=run("identity", "remove", "Email:gone@example.com")),
    # profiles
    ("profile", "get"): Command(("--namespace", "Email", "--id", "ann@example.com"), ann_profile, shows="2 events"),
    ("profile", "rebuild"): Command((), each(has({"profiles": {"profiles": lambda n: n >= 5}}), then(
        "profile", "get", *ANN, check=has({"attributes": {"person": {"name": {"firstName": "Ann"}}}})))),
    ("mergepolicy", "create"): Command(("web-first", "--kind", "dataset_precedence", "--dataset", "web", "--dataset",
                                        "crm"), each(has({"name": "web-first", "default": False}), then(
        "profile", "get", *ANN, "--merge-policy", "web-first", check=has({"mergePolicy": "web-first"})))),
    ("mergepolicy", "list"): Command((), lists({"name": "latest", "default": True}, {
        "name": "crm-first", "datasets": ["crm", "web"]}), shows="crm-first"),
    # segments
    ("segment", "create"): Command(("oslo", "--file", "{files}/oslo.pql", "--streaming"), then(
        "segment", "show", "oslo", check=has({"expression": {"value": OSLO}, "evaluationInfo": {"streaming": {
            "enabled": True}}}))),
    ("segment", "update"): Command(("spare-seg", "--pql", OSLO, "--description", "in Oslo"), each(
        has({"name": "spare-seg", "description": "in Oslo", "expression": {"value": OSLO}}),
        then("segment", "show", "spare-seg", check=has({"expression": {"value": OSLO}}))),
        before=run("segment", "create", "spare-seg", "--pql", PARISIANS)),
    ("segment", "validate"): Command(("--pql", PARISIANS), has({"valid": True, "streamingEligible": True}),
                                     shows="can stream"),
    ("segment", "list"): Command((), lists({"name": "parisians", "expression": {"value": PARISIANS}}, {
        "name": "paris-buyers", "composition": {"intersection": ["parisians", "buyers"]}}), shows="paris-buyers"),
    ("segment", "show"): Command(("gold",), has({"evaluationInfo": {"streaming": {"enabled": True}}}), shows="gold: "),
    ("segment", "delete"): Command(("brief",), each(has({"name": "brief"}), fails("segment", "show", "brief", code=3)),
                                   before=run("segment", "create", "brief", "--pql", PARISIANS)),
    ("segment", "estimate"): Command(("parisians",), has({"estimate": 2, "profiles": lambda n: n >= 5}),
                                     shows="2 of "),
    ("segment", "run"): Command(("parisians",), each(has({"status": "success", "counts": {"parisians": {
        "qualified": 2}}}), then("segment", "members", "parisians", check=members_are("C1", "C3")))),
    ("segment", "members"): Command(("paris-buyers",), members_are("C1"), shows="1 members"),
    ("segment", "history"): Command(ANN, has({"transitions": lambda t: {(x["segment"], x["status"]) for x in t} == {
        ("parisians", "realized"), ("buyers", "realized"), ("paris-buyers", "realized")}}), shows="parisians"),
}
PURCHASES = 'xEvent[eventType = "commerce.purchases"].count()'
COMMANDS |= {  # computed attributes: each case makes its own, so that none depends on another's
    ("computed", "create"): Command(("bought30", "--pql", PURCHASES, "--lookback", "30 days"), then(
        "computed", "show", "bought30", check=has({"name": "bought30", "status": "NEW", "mergeFunction": {
            "value": "COUNT"}, "path": "_tenant.SystemComputedAttributes.bought30.value"}))),
    ("computed", "list"): Command((), lists({"name": "listed", "duration": {"count": 90, "unit": "DAYS"}}),
                                  before=run("computed", "create", "listed", "--pql", PURCHASES, "--lookback",
                                             "90 days"), shows="listed"),
    ("computed", "show"): Command(("shown",), has({"name": "shown", "duration": {"count": 2, "unit": "WEEKS"}}),
                                  before=run("computed", "create", "shown", "--pql", PURCHASES, "--lookback",
                                             "2 weeks"), shows="shown (NEW)"),
    ("computed", "update"): Command(("changed", "--lookback", "7 days"), then("computed", "show", "changed", check=has(
        {"duration": {"count": 7, "unit": "DAYS"}, "status": "NEW"})), before=run(
        "computed", "create", "changed", "--pql", PURCHASES)),
    ("computed", "delete"): Command(("brief1",), each(has({"name": "brief1"}), fails("computed", "show", "brief1",
        code=3)), before=run("computed", "create", "brief1", "--pql", PURCHASES)),
    ("computed", "refresh"): Command((), each(has({"evaluated": lambda names: "refreshed" in names,
                                                   "profiles": lambda n: n >= 5}), then(
        "computed", "show", "refreshed", check=has({"status": "PROCESSED", "lastEvaluatedAt": str}))),
        before=run("computed", "create", "refreshed", "--pql", PURCHASES), shows="evaluated over"),
}
COMMANDS |= {  # segment jobs as a service
    ("segment", "jobs"): Command((), lists({"status": "success", "trigger": "manual", "segments": 1}),
                                 before=run("segment", "run", "parisians"), shows="success"),
    ("segment", "cancel"): Command(("{queued_job}",), each(has({"id": Ref("queued_job"), "status": "cancelled",
        "cancelRequested": True}), then("segment", "jobs", "{queued_job}", check=has({"status": "cancelled"})))),
    ("segment", "schedule", "set"): Command(("--every-hours", "6", "--at", "01:30", "--rebuild-profiles"), then(
        "segment", "schedule", "show", check=has({"everyHours": 6, "at": "01:30", "rebuildProfiles": True,
                                                  "enabled": True, "nextRunAt": str}))),
    ("segment", "schedule", "show"): Command((), has({"everyHours": 12, "enabled": True}), before=run(
        "segment", "schedule", "set", "--every-hours", "12"), shows="every 12 h aligned on 00:00 UTC"),
    ("segment", "schedule", "disable"): Command((), each(has({"enabled": False}), then("segment", "schedule", "show",
        check=has({"enabled": False, "nextRunAt": None}))), before=run("segment", "schedule", "set"),
        shows="disabled"),
}
COMMANDS |= {  # privacy jobs: the walk's home keeps everyone for the other cases, so the delete is of nobody
    ("privacy", "access"): Command(("--identity", "CRMID:C1", "--output", "{files}/ann-bundle.json"), each(has({
        "kind": "access", "status": "complete", "summary": {"people": 1}, "report": lambda r: {
        x["store"] for x in r if x["found"]} >= {"lake", "identityGraph", "profileStore"}}), bundle_of_ann)),
    ("privacy", "delete"): Command(("--identity", "Email:nobody@example.com"), has({"kind": "delete",
        "status": "complete", "summary": {"found": 0, "removed": 0}, "identities": [{"namespace": "Email",
        "digest": str}]}), shows="complete"),
    ("privacy", "jobs"): Command((), lists({"kind": "access", "status": "complete", "identities": [{
        "namespace": "Email", "value": "bob@example.com"}]}), before=run("privacy", "access", "-i",
        "Email:bob@example.com"), shows="access"),
}
# fmt: on


def command_tree(group: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every command under a group, by its path (`("schema", "create")`)."""
    found: dict[tuple[str, ...], Any] = {}
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            found |= command_tree(command, (*prefix, name))
        else:
            found[(*prefix, name)] = command
    return found


TREE = command_tree(typer.main.get_command(app))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    with small_home(Path(tmp_path_factory.mktemp("command-walk"))) as home:
        workspace = Workspace.open(home.settings)
        home.ids["spare_token"] = create_token(workspace.catalog, "spare")[0].id
        home.ids["queued_job"] = segment.queue_job(workspace, "prod", None)  # its process is about to start
        workspace.close()
        dynamic = {"sqlite.yaml": f"dialect: sqlite\ndatabase: {home.landing / 'shop.db'}\n",
                   "outbox.yaml": f"root: {home.ids['outbox']}\n"}  # fmt: skip
        for name, text in {**FILES, **dynamic}.items():
            home.write(name, text)
        yield Cli(home)


@pytest.fixture(autouse=True)
def _on_the_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command runs on the walk's home, as `ACCORD_HOME` says (after conftest cleared ACCORD_*)."""
    if "walk" in request.fixturenames:
        home: SmallHome = request.getfixturevalue("walk").home
        monkeypatch.setenv("ACCORD_HOME", str(home.settings.home))
        monkeypatch.setenv("ACCORD_DUCKDB_THREADS", "2")
        assert home.smtp is not None  # the campaign instance sends through the home's SMTP server
        monkeypatch.setenv("ACCORD_CAMPAIGN_SMTP_PORT", str(home.smtp.port))
        monkeypatch.setenv("ACCORD_CAMPAIGN_BOUNCE_MAILBOX", str(home.settings.campaign_bounce_mailbox))
        monkeypatch.setenv("ACCORD_CAMPAIGN_LOG_SETTLE_SECONDS", "0")


def test_every_command_has_a_case() -> None:
    missing = sorted(" ".join(path) for path in set(TREE) - set(COMMANDS))
    stale = sorted(" ".join(path) for path in set(COMMANDS) - set(TREE))
    assert not missing, f"commands without a case in COMMANDS (tests/cli/test_every_command.py): {missing}"
    assert not stale, f"cases in COMMANDS for commands the CLI no longer has: {stale}"


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_command(walk: Cli, path: tuple[str, ...]) -> None:
    case = COMMANDS[path]
    if case.before is not None:
        case.before(walk)
    if case.process:
        case.check(walk, None)
        return
    assert any("--json" in getattr(p, "opts", ()) for p in TREE[path].params), f"accord {' '.join(path)}: no --json"
    result = walk(*case.options, *path, *case.args, "--json")
    assert result.code == 0, f"accord {' '.join(path)}: exit {result.code}\n{result.stdout}\n{result.stderr}"
    case.check(walk, [json.loads(line) for line in result.stdout.splitlines()] if case.lines else result.json())
    if case.shows is not None:
        shown, expected = walk(*case.options, *path, *case.args), case.shows.format(**walk.fill)
        assert shown.code == 0 and expected in shown.stdout, f"accord {' '.join(path)} shows:\n{shown.stdout}"
