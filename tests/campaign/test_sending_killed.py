"""Kill -9 the sending process in the middle of a 20,000-recipient delivery, start it again: every recipient
gets one message (the SMTP server's store is counted), but at most the messages in flight at the kill, which
the second run reports as at risk; and the send log says sent for all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accord.campaign import CampaignEngine, initialise_engine
from accord.campaign.models import BroadLogRecord
from accord.settings import Settings
from tests.campaign.bulk import add_recipients, create_delivery
from tests.smtp_server import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = 20_000
BATCH = 200


def sending_process(settings: Settings, sink: SmtpSink, delivery: int) -> subprocess.Popen[str]:
    environment = os.environ | {"ACCORD_HOME": str(settings.home), "ACCORD_SCHEDULER": "false",
                                "ACCORD_CAMPAIGN_SMTP_PORT": str(sink.port), "PYTHONPATH": str(ROOT)}  # fmt: skip
    command = [sys.executable, "-m", "accord.campaign.sending", str(delivery), "--batch-size", str(BATCH),
               "--renderer", "tests.campaign.bulk:PlainRenderer",
               "--target", "tests.campaign.bulk:everyone"]  # fmt: skip
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def statuses(engine: CampaignEngine) -> dict[str, int]:
    with engine.database.session() as session:
        query = select(BroadLogRecord.status, func.count()).group_by(BroadLogRecord.status)
        return {status: count for status, count in session.execute(query)}


@pytest.mark.slow
def test_a_delivery_killed_mid_way_and_restarted_mails_each_recipient_once(settings: Settings,
                                                                           smtp_sink: SmtpSink) -> None:  # fmt: skip
    initialise_engine(settings)
    engine = CampaignEngine.open(settings)
    try:
        people = add_recipients(engine, RECIPIENTS)
        delivery = create_delivery(engine)
        first = sending_process(settings, smtp_sink, delivery)
        deadline = time.monotonic() + 120
        while smtp_sink.count() < RECIPIENTS // 4 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        left = statuses(engine)
        assert 0 < left.get("sent", 0) < RECIPIENTS  # killed in the middle, not before nor after
        assert 0 < left.get("sending", 0) <= BATCH  # in flight: one batch at most

        second = sending_process(settings, smtp_sink, delivery)
        output, errors = second.communicate(timeout=300)
        assert second.returncode == 0, errors
        counts = json.loads(output)
        assert counts["atRisk"] == left["sending"]
        assert counts["sent"] == RECIPIENTS and counts["sentNow"] == RECIPIENTS - left["sent"]
        assert statuses(engine) == {"sent": RECIPIENTS}

        received = Counter(r.recipients[0] for r in smtp_sink.received())
        assert set(received) == {p["email"] for p in people}  # everyone got it
        twice = sum(n - 1 for n in received.values())
        assert twice <= counts["atRisk"]  # only messages in flight at the kill may arrive twice
    finally:
        engine.close()
