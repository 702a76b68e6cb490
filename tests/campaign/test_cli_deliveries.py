"""`accord campaign delivery|workflow|import|loads|bounces|list subscribe`: audiences imported from the landing
folder, a delivery from a YAML file checked, proofed and sent through a real SMTP server (what it holds is
checked, and sending again mails no one twice), bounces read from a Maildir, subscriptions confirmed by e-mail,
workflows run and resumed; and bad input said clearly, without a traceback."""

from __future__ import annotations

import mailbox
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from accord.settings import Settings
from tests.campaign.test_bounces import delivery_report
from tests.http_receiver import HttpReceiver
from tests.smtp_server import SmtpSink

AUDIENCE = """externalId,email,firstName,segmentMembership.status
C1,ann@example.com,Ann,realized
C2,bob@example.com,Bob,realized
C3,cid@example.com,Cid,realized
"""
LETTER = """name: spring
label: Spring sale
campaignId: CMP-1
sender: Shop <news@shop.example>
subject: "{{ recipient.firstName }}, spring is here"
text: |
  Hello {{ recipient.firstName }},
  the spring sale starts today.
html: "<p>Hello {{ recipient.firstName }}</p>"
target: {audience: sp1}
"""


@pytest.fixture
def shell(cli: Any, settings: Settings, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The CLI on an initialised instance (its landing folder allowed, as by default) sending through the test's
    SMTP server, its bounce mailbox a Maildir, and three recipients imported from an audience file (the list of
    audience `sp1`)."""
    monkeypatch.setenv("ACCORD_ALLOWED_ROOTS", os.pathsep.join((str(tmp_path), str(settings.landing))))
    monkeypatch.setenv("ACCORD_CAMPAIGN_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("ACCORD_CAMPAIGN_BOUNCE_MAILBOX", str(tmp_path / "bounces"))
    mailbox.Maildir(tmp_path / "bounces", create=True)
    assert cli("campaign", "init").code == 0
    (settings.campaign_landing_folder / "spring_segmentsp1_20261130080000.csv").write_text(AUDIENCE)
    imported = cli("campaign", "import", "--json")
    assert imported.code == 0 and imported.json()["status"] == "success", imported.stdout
    return cli


def received(sink: SmtpSink) -> list[tuple[list[str], str]]:
    return [(r.recipients, str(r.message()["Subject"])) for r in sink.received()]


def test_a_delivery_from_a_file_is_checked_proofed_and_sent_once(shell: Any, smtp_sink: SmtpSink,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    loads = shell("campaign", "loads", "--json").json()
    assert [(x["file"], x["loaded"], x["inserted"], x["list"]) for x in loads] == [
        ("spring_segmentsp1_20261130080000.csv", 3, 3, "spring_segmentsp1")]  # fmt: skip
    (tmp_path / "spring.yaml").write_text(LETTER)
    made = shell("campaign", "delivery", "create", "--file", str(tmp_path / "spring.yaml"), "--json")
    assert made.code == 0, made.stderr
    assert made.json()["target"] == {"audience": "sp1"} and made.json()["campaignId"] == "CMP-1"
    checked = shell("campaign", "delivery", "check", "spring", "--json").json()
    assert checked["recipients"] == 3 and checked["fields"] == ["firstName"] and checked["missing"] == {}

    no_address = shell("campaign", "delivery", "proof", "spring")
    assert no_address.code != 0 and "no test addresses" in no_address.stderr and "Traceback" not in no_address.stderr
    assert shell("campaign", "address", "add", "proof@example.com").code == 0
    proof = shell("campaign", "delivery", "proof", "spring")
    assert proof.code == 0 and "1 of 1 sent" in proof.stdout
    [(to, subject)] = received(smtp_sink)
    assert to == ["proof@example.com"] and subject == "[PROOF] Ann, spring is here"

    sent = shell("campaign", "delivery", "send", "spring")
    assert sent.code == 0 and "3 sent now" in sent.stdout, sent.stdout + sent.stderr
    mails = received(smtp_sink)[1:]
    assert sorted(mails) == [(["ann@example.com"], "Ann, spring is here"), (["bob@example.com"], "Bob, spring is here"),
                             (["cid@example.com"], "Cid, spring is here")]  # fmt: skip
    bob = next(r.message() for r in smtp_sink.received() if r.recipients == ["bob@example.com"])
    text = bob.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as sent: lines end in CRLF
    assert text.startswith("Hello Bob,\nthe spring sale starts today.\n") and "/campaign/t/u/" in text

    again = shell("campaign", "delivery", "send", "spring", "--json")
    assert again.json()["sentNow"] == 0 and again.json()["sent"] == 3 and smtp_sink.count() == 4  # no second copy
    log = shell("campaign", "delivery", "log", "spring", "--json").json()
    assert log["counts"] == {"pending": 0, "sending": 0, "sent": 3, "failed": 0, "bounced": 0}
    assert [(r["externalId"], r["status"]) for r in log["rows"]] == [("C1", "sent"), ("C2", "sent"), ("C3", "sent")]
    page = shell("campaign", "delivery", "log", "spring", "--limit", "1", "--offset", "2", "--json").json()
    assert [r["externalId"] for r in page["rows"]] == ["C3"] and page["total"] == 3
    assert shell("campaign", "delivery", "show", "spring", "--json").json()["state"] == "sent"


def test_a_hard_bounce_read_from_the_mailbox_suppresses_the_address(shell: Any, smtp_sink: SmtpSink,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "spring.yaml").write_text(LETTER)
    assert shell("campaign", "delivery", "create", "--file", str(tmp_path / "spring.yaml")).code == 0
    assert shell("campaign", "delivery", "send", "spring", "--json").json()["sent"] == 3
    returned = next(r.message() for r in smtp_sink.received() if r.recipients == ["cid@example.com"])
    mailbox.Maildir(tmp_path / "bounces").add(delivery_report(returned, "failed", "5.1.1"))

    counts = shell("campaign", "bounces", "--json").json()
    assert counts == {"read": 1, "hard": 1, "soft": 0, "ignored": 0, "unmatched": 0, "unreadable": 0}
    bounced = shell("campaign", "delivery", "log", "spring", "--status", "bounced", "--json").json()
    assert [(r["email"], r["status"]) for r in bounced["rows"]] == [("cid@example.com", "bounced")]
    assert bounced["counts"]["sent"] == 2 and "5.1.1" in bounced["rows"][0]["reason"]
    suppressed = shell("campaign", "suppression", "list", "--json").json()
    assert [(s["email"], s["reason"]) for s in suppressed] == [("cid@example.com", "hard-bounce")]
    assert shell("campaign", "bounces", "--json").json()["read"] == 0  # read once


def test_a_subscription_sends_its_confirmation_through_smtp(shell: Any, smtp_sink: SmtpSink) -> None:
    assert shell("campaign", "list", "create", "letters", "--label", "Our letters", "--double-opt-in").code == 0
    made = shell("campaign", "list", "subscribe", "letters", "Dan@Example.com", "--field", "firstName=Dan",
                 "--field", "custom.city=Oslo", "--json")  # fmt: skip
    assert made.code == 0, made.stderr
    assert made.json()["status"] == "pending" and made.json()["confirmation"]["status"] == "sent"
    [mail] = smtp_sink.received()
    message = mail.message()
    assert (
        mail.recipients == ["dan@example.com"]
        and message["Subject"] == "Please confirm your subscription to Our letters"
    )
    assert "/campaign/t/s/" in message.get_body(("plain",)).get_content()
    assert shell("campaign", "list", "members", "letters", "--json").json() == []  # pending until confirmed
    not_a_subscription_list = shell("campaign", "list", "subscribe", "spring_segmentsp1", "eve@example.com")
    assert not_a_subscription_list.code != 0 and "not a subscription list" in not_a_subscription_list.stderr
    bad_field = shell("campaign", "list", "subscribe", "letters", "eve@example.com", "--field", "firstName")
    assert bad_field.code != 0 and "KEY=VALUE" in bad_field.stderr and "Traceback" not in bad_field.stderr
    assert smtp_sink.count() == 1


def test_a_workflow_from_a_file_runs_fails_and_resumes(shell: Any, tmp_path: Path) -> None:
    receiver = HttpReceiver()
    try:
        (tmp_path / "tell.yaml").write_text(f"""name: tell
activities:
- {{name: ann, type: query, options: {{filter: {{field: firstName, op: eq, value: Ann}}}}, next: [list]}}
- {{name: list, type: list-update, options: {{list: anns}}, next: [alert]}}
- {{name: alert, type: alert, options: {{url: "{receiver.url}/hook", message: anns listed, attempts: 1}}}}
""")
        made = shell("campaign", "workflow", "create", "--file", str(tmp_path / "tell.yaml"))
        assert made.code == 0 and "ann (query) -> list (list-update) -> alert (alert)" in made.stdout
        receiver.refuse(b"anns listed")
        failed = shell("campaign", "workflow", "run", "tell")
        assert failed.code == 1 and "failed" in failed.stdout and "accord campaign workflow resume" in failed.stdout
        run_id = shell("campaign", "workflow", "runs", "tell", "--json").json()[0]["id"]
        shown = shell("campaign", "workflow", "show-run", str(run_id), "--json").json()
        assert [(a["activity"], a["status"]) for a in shown["activities"]] == [
            ("ann", "success"), ("list", "success"), ("alert", "failed")]  # fmt: skip
        assert shown["activities"][0]["counts"] == {"population": 1} and "HTTP 503" in shown["error"]
        receiver.allow(b"anns listed")
        resumed = shell("campaign", "workflow", "resume", str(run_id), "--json").json()
        assert resumed["status"] == "success" and resumed["activities"][-1]["status"] == "success"
        assert shell("campaign", "list", "members", "anns", "--json").json() == ["C1"]
        assert len(receiver.requests("/hook")) == 2
        again = shell("campaign", "workflow", "resume", str(run_id))
        assert again.code != 0 and "only a failed or waiting run is resumed" in again.stderr
    finally:
        receiver.stop()
    assert shell("campaign", "workflow", "delete", "tell").code == 0
    assert "tell" not in [w["name"] for w in shell("campaign", "workflow", "list", "--json").json()]


def test_bad_input_is_said_clearly_and_keeps_nothing(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:  # fmt: skip
    (tmp_path / "bad.yaml").write_text("name: bad\nsubject: Hi\nbody: hello\ntarget: {list: vip}\n")
    bad = shell("campaign", "delivery", "create", "--file", str(tmp_path / "bad.yaml"))
    assert bad.code != 0 and "body: unknown key" in bad.stderr and "sender: missing" in bad.stderr
    (tmp_path / "broken.yaml").write_text("name: [broken\n")
    broken = shell("campaign", "delivery", "create", "--file", str(tmp_path / "broken.yaml"))
    assert broken.code != 0 and "not valid YAML" in broken.stderr and "line" in broken.stderr
    (tmp_path / "template.yaml").write_text(LETTER.replace("{{ recipient.firstName }},", "{{ recipient.firstName ,"))
    template = shell("campaign", "delivery", "create", "--file", str(tmp_path / "template.yaml"))
    assert template.code != 0 and "syntax error" in template.stderr
    assert shell("campaign", "delivery", "list", "--json").json() == []  # nothing half-made

    (tmp_path / "flow.yaml").write_text("name: odd\nactivities:\n- {name: a, type: teleport}\n")
    odd = shell("campaign", "workflow", "create", "--file", str(tmp_path / "flow.yaml"), "--json")
    assert odd.code != 0 and "activities[0]" in odd.stdout and "teleport" in odd.stdout
    unknown = shell("campaign", "delivery", "send", "sprung")
    assert unknown.code != 0 and "sprung" in unknown.stderr
    assert shell("campaign", "delivery", "log", "x", "--status", "lost").code != 0

    (tmp_path / "spring.yaml").write_text(LETTER)
    assert shell("campaign", "delivery", "create", "--file", str(tmp_path / "spring.yaml")).code == 0
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ACCORD_CAMPAIGN_SMTP_PORT", str(closed.getsockname()[1]))
    monkeypatch.setenv("ACCORD_CAMPAIGN_SMTP_RETRIES", "0")
    down = shell("campaign", "delivery", "send", "spring")
    assert down.code != 0 and "could not be used" in down.stderr and "Traceback" not in down.stderr
    assert shell("campaign", "address", "add", "proof@example.com").code == 0
    proof_down = shell("campaign", "delivery", "proof", "spring")
    assert proof_down.code != 0 and "could not be used" in proof_down.stderr
    for answer in (bad, broken, template, unknown, down, proof_down):
        assert "Traceback" not in answer.stderr
