"""Bounces read from a Maildir: real DSN messages (RFC 3464) built with the email package around messages
that the SMTP server really received, matched to their send-log rows, hard ones quarantined."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from sqlalchemy import select

from accord.access import PathNotAllowedError
from accord.campaign import CampaignEngine, initialise_engine, suppressions
from accord.campaign.bounces import process_bounces
from accord.campaign.exceptions import BounceMailboxError
from accord.campaign.models import BroadLogRecord
from accord.campaign.sending import send_delivery
from accord.settings import Settings
from tests.campaign.bulk import PlainRenderer, add_recipients, create_delivery
from tests.smtp_server import SmtpSink


@pytest.fixture
def engine(settings: Settings, smtp_sink: SmtpSink) -> Iterator[CampaignEngine]:
    """An instance that sent a delivery to ann0..ann3 through the test's SMTP server."""
    initialise_engine(settings)
    opened = CampaignEngine.open(settings)
    opened.settings = Settings(**(settings.model_dump() | {"campaign_smtp_port": smtp_sink.port}))
    delivery = create_delivery(opened)
    send_delivery(opened, delivery, PlainRenderer(opened, delivery), recipients=add_recipients(opened, 4, "ann"))
    yield opened
    opened.close()


def delivery_report(returned: Message, action: str, status: str, *, headers_only: bool = False) -> bytes:
    """A DSN as an MTA writes it: a note for people, the status per recipient, and the returned message."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.com"
    report["To"] = "news@shop.example"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("This is the mail system at host mx.example.com. I'm sorry to have to inform you...\n"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example.com"
    per_recipient["Final-Recipient"] = f"rfc822; {returned['To']}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = f"smtp; {status[0]}50 {status} mailbox unavailable"
    status_part = Message()
    status_part["Content-Type"] = "message/delivery-status"
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    if headers_only:
        headers = "".join(f"{name}: {value}\n" for name, value in returned.items())
        report.attach(MIMEText(headers, "rfc822-headers"))
    else:
        report.attach(MIMEMessage(returned))
    return report.as_bytes()


def sent_to(sink: SmtpSink, address: str) -> Message:
    return next(r.message() for r in sink.received() if r.recipients == [address])


def rows(engine: CampaignEngine) -> dict[str, BroadLogRecord]:
    with engine.database.session() as session:
        return {row.email: row for row in session.scalars(select(BroadLogRecord))}


def test_hard_and_soft_bounces_mark_their_rows_and_quarantine_hard_ones(engine: CampaignEngine, smtp_sink: SmtpSink,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    box = mailbox.Maildir(tmp_path / "bounces")
    box.add(delivery_report(sent_to(smtp_sink, "ann0@example.com"), "failed", "5.1.1"))
    box.add(delivery_report(sent_to(smtp_sink, "ann1@example.com"), "delayed", "4.2.2"))
    # a server that returns only the headers, and a message that lost our header: found by its Message-ID
    returned = sent_to(smtp_sink, "ann2@example.com")
    del returned["X-Accord-Broadlog"]
    box.add(delivery_report(returned, "failed", "5.2.1", headers_only=True))
    box.add(delivery_report(sent_to(smtp_sink, "ann3@example.com"), "delivered", "2.0.0"))

    counts = process_bounces(engine, tmp_path / "bounces")
    assert counts == {"read": 4, "hard": 2, "soft": 1, "ignored": 1, "unmatched": 0, "unreadable": 0}
    found = rows(engine)
    assert found["ann0@example.com"].status == "bounced"
    assert found["ann0@example.com"].reason.startswith("hard bounce (failed, status 5.1.1): smtp; 550 5.1.1")
    assert found["ann1@example.com"].status == "bounced" and found["ann1@example.com"].reason.startswith("soft")
    assert found["ann2@example.com"].reason.startswith("hard bounce (failed, status 5.2.1)")
    assert found["ann3@example.com"].status == "sent"
    assert {s["email"]: s["reason"] for s in suppressions(engine)} == {"ann0@example.com": "hard-bounce",
                                                                       "ann2@example.com": "hard-bounce"}  # fmt: skip

    assert list((tmp_path / "bounces" / "new").iterdir()) == []
    assert len(list((tmp_path / "bounces" / "cur").iterdir())) == 4
    assert process_bounces(engine, tmp_path / "bounces")["read"] == 0  # a second run counts nothing again


def test_a_message_that_is_not_a_readable_report_is_counted_and_kept(engine: CampaignEngine, smtp_sink: SmtpSink,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    box = mailbox.Maildir(tmp_path / "bounces")
    box.add(b"From: someone@example.com\nSubject: out of office\n\nI am away until Monday.\n")
    box.add(b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\n\n--x\n"
            b"Content-Type: text/plain\n\nno status part\n--x--\n")  # fmt: skip
    box.add(delivery_report(sent_to(smtp_sink, "ann0@example.com"), "failed", "5.1.1"))
    counts = process_bounces(engine, tmp_path / "bounces")
    assert (counts["read"], counts["unreadable"], counts["hard"]) == (3, 2, 1)
    assert len(list((tmp_path / "bounces" / "new").iterdir())) == 2  # kept for a person to look at
    assert rows(engine)["ann1@example.com"].status == "sent"


def test_a_report_of_a_message_the_instance_never_sent_is_unmatched(engine: CampaignEngine,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    stranger = Message()
    stranger["To"] = "ann0@example.com"
    stranger["Message-ID"] = "<not-ours@elsewhere.example>"
    stranger.set_payload("hi")
    mailbox.Maildir(tmp_path / "bounces").add(delivery_report(stranger, "failed", "5.1.1"))
    assert process_bounces(engine, tmp_path / "bounces")["unmatched"] == 1
    assert suppressions(engine) == [] and rows(engine)["ann0@example.com"].status == "sent"


def test_the_mailbox_must_be_a_maildir_inside_the_allowed_roots(engine: CampaignEngine, tmp_path: Path) -> None:
    with pytest.raises(BounceMailboxError, match="no bounce mailbox: set campaign_bounce_mailbox"):
        process_bounces(engine)
    (tmp_path / "plain").mkdir()
    with pytest.raises(BounceMailboxError, match=r"not a Maildir folder \(no new, cur/"):
        process_bounces(engine, tmp_path / "plain")
    with pytest.raises(PathNotAllowedError):
        process_bounces(engine, "/etc")
