"""Sending deliveries over SMTP to a real server (aiosmtpd, in its own process): one message per recipient,
the send log before and after, retries, bounces, pacing, TLS and login, the lock."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.campaign import CampaignEngine, add_seed_address, initialise_engine, suppressions
from accord.campaign.exceptions import SmtpSecurityError, SmtpUnavailableError
from accord.campaign.models import BroadLogRecord, DeliveryRecord
from accord.campaign.sending import delivery_lock, send_delivery
from accord.campaign.smtp import HourlyWindow
from accord.catalog import JobLeaseRecord, utcnow
from accord.jobs import JobRunningError
from accord.settings import Settings
from tests.campaign.bulk import PlainRenderer, add_recipients, create_delivery, targeted
from tests.campaign.conftest import SmtpServers
from tests.databases import PostgresServer
from tests.smtp_server import SmtpSink


@pytest.fixture
def engine(settings: Settings) -> Iterator[CampaignEngine]:
    initialise_engine(settings)
    opened = CampaignEngine.open(settings)
    yield opened
    opened.close()


def point_at(engine: CampaignEngine, sink: SmtpSink | int, **changes: Any) -> None:
    """Send through `sink` (or to a bare port), quickly retried."""
    port = sink if isinstance(sink, int) else sink.port
    update = {"campaign_smtp_port": port, "campaign_smtp_backoff": 0.01, "campaign_smtp_connections": 2} | changes
    engine.settings = Settings(**(engine.settings.model_dump() | update))


def send(engine: CampaignEngine, delivery_id: int, recipients: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return send_delivery(engine, delivery_id, PlainRenderer(engine, delivery_id), recipients=recipients, **options)


def log_rows(engine: CampaignEngine, delivery_id: int) -> list[BroadLogRecord]:
    with engine.database.session() as session:
        query = select(BroadLogRecord).where(BroadLogRecord.delivery_id == delivery_id).order_by(BroadLogRecord.id)
        return list(session.scalars(query))


def test_each_recipient_gets_one_personalised_message_and_the_log_says_sent(engine: CampaignEngine,
                                                                            smtp_sink: SmtpSink) -> None:  # fmt: skip
    point_at(engine, smtp_sink)
    people = add_recipients(engine, 30)
    delivery = create_delivery(engine)
    told: list[tuple[int, int]] = []
    counts = send(engine, delivery, people, batch_size=7, progress=lambda done, total: told.append((done, total)))
    assert told == [(7, 30), (14, 30), (21, 30), (28, 30), (30, 30)]  # after each batch

    received = smtp_sink.received()
    assert sorted(r.recipients[0] for r in received) == sorted(p["email"] for p in people)
    assert {r.sender for r in received} == {"news@shop.example"}
    rows = {row.email: row for row in log_rows(engine, delivery)}
    for message in (r.message() for r in received):
        row = rows[message["To"]]
        assert message["Subject"] == "Welcome, Ann"
        assert message["X-Accord-Broadlog"] == str(row.id)  # a bounce finds its row by it
        assert message["Message-ID"] == row.message_id
        assert "Hello Ann" in message.get_content()
    assert {row.status for row in rows.values()} == {"sent"}
    assert counts["sent"] == counts["sentNow"] == counts["targeted"] == 30
    assert counts["failed"] == counts["bounced"] == counts["atRisk"] == 0
    with engine.database.session() as session:
        record = session.get(DeliveryRecord, delivery)
        assert record is not None and record.state == "sent" and record.counts["sent"] == 30


def test_sending_again_mails_no_one_twice_and_adds_newcomers(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink)
    first = add_recipients(engine, 10, "a")
    delivery = create_delivery(engine)
    send(engine, delivery, first)
    again = send(engine, delivery, first + add_recipients(engine, 3, "b"))
    assert again["sentNow"] == 3 and again["sent"] == 13
    assert Counter(r.recipients[0] for r in smtp_sink.received()) == Counter({p["email"]: 1 for p in targeted(engine)})


def test_refused_recipients_bounce_hard_and_are_never_mailed_again(engine: CampaignEngine,
                                                                   smtp_servers: SmtpServers) -> None:  # fmt: skip
    sink = smtp_servers("refuse")
    point_at(engine, sink)
    people = add_recipients(engine, 4, "good") + add_recipients(engine, 2, "bad")
    counts = send(engine, create_delivery(engine), people)
    assert (counts["sent"], counts["bounced"], counts["retried"]) == (4, 2, 0)  # a 5xx is final: no retry
    bounced = [row for row in log_rows(engine, 1) if row.status == "bounced"]
    assert sorted(row.email for row in bounced) == ["bad0@example.com", "bad1@example.com"]
    assert all(row.reason.startswith("550 5.1.1") and "user unknown" in row.reason for row in bounced)
    quarantined = {s["email"]: s for s in suppressions(engine)}
    assert set(quarantined) == {"bad0@example.com", "bad1@example.com"}
    assert quarantined["bad0@example.com"]["reason"] == "hard-bounce"

    sink.clear()
    later = send(engine, create_delivery(engine, "next"), [*people, {"id": 99, "externalId": "x", "email": None}])
    assert later["excluded"] == {"suppressed": 2, "noAddress": 1} and later["sent"] == 4
    assert sorted(r.recipients[0] for r in sink.received()) == sorted(f"good{n}@example.com" for n in range(4))


def test_greylisting_is_retried_with_back_off_until_accepted(engine: CampaignEngine,
                                                             smtp_servers: SmtpServers) -> None:  # fmt: skip
    sink = smtp_servers("greylist")
    point_at(engine, sink, campaign_smtp_backoff=0.05)
    people = add_recipients(engine, 6, "grey", domain=f"t{time.monotonic_ns()}.example")
    started = time.monotonic()
    counts = send(engine, create_delivery(engine), people)
    assert counts["sent"] == 6 and counts["retried"] == 6  # each answered 451 once, then 250
    assert time.monotonic() - started >= 0.05  # the retry waited its back-off
    assert Counter(r.recipients[0] for r in sink.received()) == Counter({p["email"]: 1 for p in people})
    assert {row.attempts for row in log_rows(engine, 1)} == {2}


def test_a_connection_dropped_mid_data_is_retried_on_a_new_connection(engine: CampaignEngine,
                                                                      smtp_servers: SmtpServers) -> None:  # fmt: skip
    sink = smtp_servers("drop", drop_every=4)
    point_at(engine, sink)
    people = add_recipients(engine, 20)
    counts = send(engine, create_delivery(engine), people)
    assert counts["sent"] == 20 and counts["retried"] >= 4
    assert Counter(r.recipients[0] for r in sink.received()) == Counter({p["email"]: 1 for p in people})


def test_a_server_that_is_down_fails_the_delivery_and_marks_nothing_sent(engine: CampaignEngine,
                                                                         closed_port: int) -> None:  # fmt: skip
    point_at(engine, closed_port, campaign_smtp_retries=2)
    delivery = create_delivery(engine)
    with pytest.raises(SmtpUnavailableError, match=rf"127.0.0.1:{closed_port} could not be used after 3 attempts"):
        send(engine, delivery, add_recipients(engine, 5))
    assert {row.status for row in log_rows(engine, delivery)} == {"pending"}  # never handed over: not at risk
    with engine.database.session() as session:
        record = session.get(DeliveryRecord, delivery)
        assert record is not None and record.state == "failed" and "could not be used" in (record.error or "")


def test_the_server_back_the_delivery_resumes_without_duplicates(engine: CampaignEngine, closed_port: int,
                                                                 smtp_sink: SmtpSink) -> None:  # fmt: skip
    people = add_recipients(engine, 8)
    delivery = create_delivery(engine)
    point_at(engine, closed_port, campaign_smtp_retries=0)
    with pytest.raises(SmtpUnavailableError):
        send(engine, delivery, people)
    point_at(engine, smtp_sink)
    counts = send(engine, delivery, people)
    assert counts["sent"] == 8 and counts["atRisk"] == 0
    assert len(smtp_sink.received()) == 8


def test_starttls_and_login_where_the_server_offers_them(engine: CampaignEngine, smtp_servers: SmtpServers) -> None:
    sink = smtp_servers(tls=True, auth=("mailer", "s3cret-pass"))
    point_at(engine, sink, campaign_smtp_user="mailer", campaign_smtp_password="s3cret-pass",
             campaign_smtp_verify_tls=False)  # fmt: skip
    counts = send(engine, create_delivery(engine), add_recipients(engine, 3))
    assert counts["sent"] == 3
    assert [(r.tls, r.user) for r in sink.received()] == [(True, "mailer")] * 3


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(engine: CampaignEngine,
                                                                 smtp_servers: SmtpServers) -> None:  # fmt: skip
    sink = smtp_servers(tls=True, auth=("mailer", "s3cret-pass"))
    point_at(engine, sink, campaign_smtp_user="mailer", campaign_smtp_password="not-the-one",
             campaign_smtp_verify_tls=False)  # fmt: skip
    delivery = create_delivery(engine)
    with pytest.raises(SmtpSecurityError, match="refused the credentials of user 'mailer'") as raised:
        send(engine, delivery, add_recipients(engine, 2))
    assert "not-the-one" not in str(raised.value.to_dict()) and "not-the-one" not in repr(engine.settings)
    assert sink.received() == [] and {row.status for row in log_rows(engine, delivery)} == {"pending"}


def test_starttls_always_refuses_a_server_without_it(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink, campaign_smtp_starttls="always")
    with pytest.raises(SmtpSecurityError, match="does not offer STARTTLS"):
        send(engine, create_delivery(engine), add_recipients(engine, 2))
    assert smtp_sink.received() == []


def test_a_recipient_missing_a_field_fails_alone(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink)
    people = add_recipients(engine, 3) + add_recipients(engine, 1, "nameless", first_name=None)
    delivery = create_delivery(engine)
    counts = send(engine, delivery, people)
    assert counts["sent"] == 3 and counts["failed"] == 1
    failed = [row for row in log_rows(engine, delivery) if row.status == "failed"]
    assert failed[0].email == "nameless0@example.com" and failed[0].reason == "missing field firstName"
    assert "nameless0@example.com" not in {r.recipients[0] for r in smtp_sink.received()}


def test_seed_addresses_get_one_copy_of_the_delivery(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink)
    add_seed_address(engine, "seed@shop.example", kind="seed")
    add_seed_address(engine, "proofs@shop.example", kind="test")  # proofs only
    people = add_recipients(engine, 5)
    delivery = create_delivery(engine)
    assert send(engine, delivery, people)["seeds"] == 1
    send(engine, delivery, people)
    copies = [r for r in smtp_sink.received() if r.recipients == ["seed@shop.example"]]
    assert len(copies) == 1 and "Hello Ann" in copies[0].message().get_content()
    assert "proofs@shop.example" not in {r.recipients[0] for r in smtp_sink.received()}


def test_pacing_keeps_each_connection_to_its_rate(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink, campaign_smtp_connections=1, campaign_smtp_rate=20.0)
    started = time.monotonic()
    send(engine, create_delivery(engine), add_recipients(engine, 11))
    assert time.monotonic() - started >= 0.5  # 11 messages at 20 a second: 10 gaps of 50 ms


def test_the_hourly_window_waits_for_the_oldest_send_to_leave_it() -> None:
    async def two_more() -> float:
        window = HourlyWindow(2, earlier=[time.monotonic() - 3600 + 0.3])  # one send, 0.3 s from leaving the hour
        started = time.monotonic()
        await window.wait()  # the second of two: at once
        await window.wait()  # the third: when the first has left the hour
        return time.monotonic() - started

    assert 0.25 <= asyncio.run(two_more()) < 2


def test_a_second_sender_is_refused_with_who_holds_the_lock(engine: CampaignEngine, smtp_sink: SmtpSink) -> None:
    point_at(engine, smtp_sink)
    delivery = create_delivery(engine)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with engine.database.session() as session:
            session.add(JobLeaseRecord(name=delivery_lock(delivery), token="t" * 24, purpose="sending of delivery "
                                       "welcome", pid=holder.pid, host=socket.gethostname(), started_at=utcnow(),
                                       heartbeat_at=utcnow()))  # fmt: skip
        running = rf"sending of delivery welcome is already running \(pid {holder.pid}"
        with pytest.raises(JobRunningError, match=running):
            send(engine, delivery, add_recipients(engine, 2))
        assert smtp_sink.received() == []
    finally:
        holder.kill()
        holder.wait()
    assert send(engine, delivery, targeted(engine))["sent"] == 2  # its holder dead, the lock is taken over


@pytest.mark.integration
def test_sending_on_postgresql_keeps_the_same_log(
    tmp_path: Path, postgres: PostgresServer, smtp_servers: SmtpServers
) -> None:
    sink = smtp_servers("refuse")
    url = postgres.create_database("campaign_sending")
    settings = Settings(home=tmp_path / "home", campaign_database_url=url, scheduler=False, allowed_roots=[tmp_path])
    initialise_engine(settings)
    engine = CampaignEngine.open(settings)
    try:
        point_at(engine, sink)
        people = add_recipients(engine, 5, "good") + add_recipients(engine, 1, "bad")
        delivery = create_delivery(engine)
        first = send(engine, delivery, people, batch_size=2)
        again = send(engine, delivery, people)
        assert (first["sent"], first["bounced"], again["sentNow"]) == (5, 1, 0)
        assert sorted(r.recipients[0] for r in sink.received()) == sorted(f"good{n}@example.com" for n in range(5))
        assert [s["email"] for s in suppressions(engine)] == ["bad0@example.com"]
    finally:
        engine.close()


def test_a_user_for_a_server_that_offers_no_login_is_a_clear_error_at_once(engine: CampaignEngine,
                                                                            tmp_path: Any) -> None:  # fmt: skip
    """aiosmtpd's own command-line server offers no AUTH: a configured user is a setting to mend, said at once."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as knock:
                if knock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline, "aiosmtpd did not start"
            time.sleep(0.1)
        point_at(engine, port, campaign_smtp_starttls="never", campaign_smtp_user="mailer",
                 campaign_smtp_password="s3cret-pass")  # fmt: skip
        delivery = create_delivery(engine)
        started = time.monotonic()
        with pytest.raises(SmtpSecurityError, match="does not offer AUTH") as raised:
            send(engine, delivery, add_recipients(engine, 2))
        assert time.monotonic() - started < 5  # not retried with back-off as a server that is down would be
        assert "s3cret-pass" not in str(raised.value.to_dict())
    finally:
        server.kill()
        server.wait()
